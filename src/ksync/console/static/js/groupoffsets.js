// A task's consumer-group offset sync on its page: per group and partition the committed
// source offset, its translation on the target, what the target group committed, when it
// was last synced and why not (GET /api/v1/tasks/{id}/group-offsets), and the guided
// cutover of one group (POST /api/v1/tasks/{id}/cutover): a dry run shows each check, then
// a confirmation runs it, each step shown as the server streams it.

import { ApiError, get, postStream } from "./api.js";
import { DASH, clear, fmtInt, fmtTime, h } from "./dom.js";
import { dialog } from "./ui.js";

const MARKS = { ok: "ok", failed: "failed", pending: "…", todo: "do", waiting: "wait", cut_over: "done", checked: "done", refused: "failed", timed_out: "failed" };

/** A list the steps of a cutover are appended to, and its `add(step)`. */
function stepList() {
  const list = h("ol", { class: "cutover-steps" });
  const add = (step) => {
    const last = list.lastElementChild;
    // A wait repeats while it waits: the newest replaces the one before.
    if (last && step.step === "wait" && last.dataset.step === "wait" && last.dataset.state === "waiting") last.remove();
    list.append(
      h(
        "li",
        { class: `cutover-step ${step.state}`, dataset: { step: step.step, state: step.state } },
        h("span", { class: "mark" }, MARKS[step.state] || step.state),
        h("span", { class: "text" }, step.message),
      ),
    );
  };
  return { list, add };
}

/** Stream a cutover into `add`; the result step (or a synthetic refusal on an error). */
async function runCutover(enc, body, add, signal) {
  let result = null;
  try {
    await postStream(`/tasks/${enc}/cutover`, body, (step) => {
      add(step);
      if (step.step === "result") result = step;
    }, signal);
  } catch (exc) {
    if (signal && signal.aborted) return null;
    result = { step: "result", state: "refused", message: exc.message };
    add(result);
  }
  if (!result) {
    result = { step: "result", state: "refused", message: "the server ended the cutover without a result; look at the group's offsets below" };
    add(result);
  }
  return result;
}

/** The Cut over action: ask for the group, show the dry run, then run it on confirmation. */
async function cutOver(enc, groups) {
  const input = h("input", { type: "text", id: "cutover-group", class: "mono", value: groups[0] || "", list: "cutover-groups", autocomplete: "off" });
  const chosen = await dialog({
    title: "Cut a consumer group over to the target",
    body: h(
      "div",
      {},
      h("p", {}, "ksync first checks the task and the group (a dry run that writes nothing), then asks you to confirm."),
      h("label", { for: "cutover-group" }, "Consumer group"),
      input,
      h("datalist", { id: "cutover-groups" }, groups.map((g) => h("option", { value: g }))),
    ),
    confirmText: "Check",
  });
  const group = input.value.trim();
  if (!chosen || !group) return;
  const checks = stepList();
  const confirmed = dialog({
    title: `Cut over ${group}: checks`,
    body: h("div", {}, checks.list, h("p", { class: "muted small" }, "Nothing has been written. Cutting over asks you to stop the producers, waits until their last records and the group's offsets are on the target, then says where the consumers resume.")),
    confirmText: "Cut over",
    wide: true,
  });
  const confirm = document.querySelector('#dialog [data-action="confirm"]');
  confirm.disabled = true;
  const dry = await runCutover(enc, { group, dry_run: true }, checks.add);
  if (dry && dry.state === "checked") confirm.disabled = false;
  if (!(await confirmed)) return;
  const steps = stepList();
  const abort = new AbortController();
  const closed = dialog({ title: `Cutting over ${group}`, body: steps.list, confirmText: null, wide: true });
  closed.then(() => abort.abort());
  await runCutover(enc, { group, dry_run: false, timeout_s: 900 }, steps.add, abort.signal);
}

const num = (v) => (v === null || v === undefined ? DASH : fmtInt(v));

/** The section's element and the refresh to poll; `enc` is the encoded task id. */
export function groupOffsetsSection(enc, ctx) {
  const body = h("div", { id: "group-offsets" });
  // Hidden for a read-only key (`.write`), as every action that changes something.
  const cutoverButton = h("button", { type: "button", class: "btn small write", id: "cutover", hidden: true }, "Cut over");
  const element = h(
    "section",
    { class: "card", id: "group-offsets-section" },
    h("div", { class: "card-head" }, h("h2", {}, "Consumer-group offsets"), h("span", { class: "spacer" }), cutoverButton),
    body,
  );
  let key = "";
  let groups = [];
  cutoverButton.onclick = () => cutOver(enc, groups);
  const refresh = async () => {
    const r = await get(`/tasks/${enc}/group-offsets`).catch((exc) => {
      if (exc instanceof ApiError && exc.status === 404) return null;
      throw exc;
    });
    if (!r || !ctx.alive) return;
    const next = JSON.stringify(r);
    if (next === key) return;
    key = next;
    groups = [...new Set(r.offsets.map((o) => o.group))];
    cutoverButton.hidden = !r.enabled;
    if (!r.enabled) {
      clear(body).append(h("p", { class: "muted" }, "Offset sync is off for this task (options.sync_group_offsets)."));
      return;
    }
    const note = h("p", { class: "muted small" }, `Synced every ${r.interval_s} s. A consumer that fails over re-reads at most ${fmtInt(r.reread_bound)} records per partition, and skips none.`);
    clear(body).append(
      note,
      r.offsets.length
        ? h(
            "table",
            { class: "table compact", id: "group-offset-table" },
            h("thead", {}, h("tr", {}, ...["Group", "Source", "Offset", "Target", "Translated", "Committed", "Lag", "Synced", "Why not"].map((t) => h("th", {}, t)))),
            h(
              "tbody",
              {},
              r.offsets.map((o) =>
                h(
                  "tr",
                  {},
                  h("td", { class: "mono" }, o.group),
                  h("td", { class: "mono" }, `${o.topic}[${o.partition}]`),
                  h("td", { class: "num" }, num(o.source_offset)),
                  h("td", { class: "mono" }, `${o.target_topic}[${o.partition}]`),
                  h("td", { class: "num" }, num(o.target_offset)),
                  h("td", { class: "num" }, num(o.target_committed)),
                  h("td", { class: "num" }, num(o.lag)),
                  h("td", { class: "small nowrap" }, o.synced_at ? fmtTime(o.synced_at) : DASH),
                  h("td", { class: "wrap small" }, o.note || ""),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No selected group has committed offsets on the synced topics yet."),
    );
  };
  return { element, refresh };
}
