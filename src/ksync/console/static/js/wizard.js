// The create-task wizard: 1 source and topics, 2 target and names, 3 start point and
// options, 4 review. It previews what the task would do (matching topics, target names,
// partitions, loop warnings) from the live API, then POSTs the spec to /api/v1/tasks.
// The API decides: its errors are shown next to their fields and the wizard goes to the
// step that holds the first one.

import { ApiError, clearErrors, get, post, showErrors } from "./api.js";
import { DASH, clear, debounce, fmtInt, h } from "./dom.js";
import { flash } from "./ui.js";
import { DELIVERY_TEXT, startText, tuningControls, tuningFields, tuningRows, tuningValues } from "./taskops.js";

const TASK_ROOTS = ["name", "source", "target", "options", "body"];
const STEPS = ["Source and topics", "Target and topic names", "Start point and options", "Review and create"];

/**
 * Compile a topic regex the way ksync applies it: it must match the whole name
 * (Python's re.fullmatch), so `^(?:re)$`. Python-only named groups are translated.
 * Returns {re} or {error}; an empty pattern gives {re: null}.
 */
export function fullmatch(pattern) {
  if (!pattern) return { re: null };
  const js = pattern.replace(/\(\?P</g, "(?<").replace(/\(\?P=(\w+)\)/g, "\\k<$1>");
  try {
    return { re: new RegExp(`^(?:${js})$`) };
  } catch (exc) {
    return { error: exc.message.replace(/^Invalid regular expression: /, "") };
  }
}

const isInternal = (name) => name.startsWith("__");

function field(name, label, control, hint, extraClass = "") {
  return h(
    "div",
    { class: `field ${extraClass}`, dataset: { field: name } },
    label ? h("label", { for: control.id }, label) : null,
    control,
    hint ? h("p", { class: "hint" }, hint) : null,
    h("p", { class: "field-error", role: "alert", hidden: true }),
  );
}

function numberInput(id, attrs) {
  return h("input", { id, name: id, type: "number", inputmode: "decimal", ...attrs });
}

export function mountWizard(view, ctx) {
  const state = {
    step: 1,
    instances: [],
    tasks: [],
    srcTopics: null, // [{name, partitions, replication_factor}] of the source
    srcError: null,
    dstTopics: null, // Map name -> topic of the target
    dstError: null,
    selected: new Set(),
    topicMap: new Map(), // source topic -> the target topic the user typed or picked
    nameTouched: false,
  };
  const byId = () => new Map(state.instances.map((i) => [i.id, i]));

  // ---- controls ----------------------------------------------------------------------
  const name = h("input", { id: "task-name", name: "task-name", type: "text", maxlength: 128, placeholder: "e.g. orders-to-dr", autocomplete: "off" });
  const srcSelect = h("select", { id: "source-instance", name: "source-instance" });
  const dstSelect = h("select", { id: "target-instance", name: "target-instance" });
  const topicFilter = h("input", { type: "search", id: "topic-filter", class: "search", placeholder: "Filter topics" });
  const topicList = h("div", { class: "topic-picker", id: "topic-picker", role: "group", "aria-label": "Topics of the source instance" });
  const pickerNote = h("p", { class: "muted small", id: "picker-note" }, "Choose the source instance to see its topics.");
  const regex = h("input", { id: "topic-regex", name: "topic-regex", type: "text", class: "mono", placeholder: "e.g. orders\\..*", autocomplete: "off", spellcheck: "false" });
  const regexCheck = h("p", { class: "hint regex-check", id: "regex-check" });
  const exclude = h("input", { id: "exclude-regex", name: "exclude-regex", type: "text", class: "mono", placeholder: "e.g. .*\\.tmp", autocomplete: "off", spellcheck: "false" });
  const excludeCheck = h("p", { class: "hint regex-check", id: "exclude-check" });
  const selectionPreview = h("div", { class: "preview", id: "selection-preview" });
  const prefix = h("input", { id: "topic-prefix", name: "topic-prefix", type: "text", class: "mono", maxlength: 200, placeholder: "none: same names", autocomplete: "off" });
  const separator = h("input", { id: "separator", name: "separator", type: "text", class: "mono narrow", maxlength: 10, value: "." });
  const keepPartition = h("input", { id: "keep-partition", name: "keep-partition", type: "checkbox", checked: true });
  const loopWarning = h("div", { class: "notice warn", id: "loop-warning", hidden: true });
  const sameCluster = h("div", { class: "notice warn", id: "same-cluster", hidden: true });
  const targetPreview = h("div", { class: "preview", id: "target-preview" });
  // The target's existing topics, offered to every "name it" field (type or pick, as the
  // CKafka console does).
  const targetNames = h("datalist", { id: "target-topic-names" });
  const startRadios = ["earliest", "latest", "timestamp"].map((v) =>
    h("input", { type: "radio", name: "start-type", id: `start-${v}`, value: v, checked: v === "earliest" }),
  );
  const startTime = h("input", { id: "start-time", name: "start-time", type: "datetime-local", step: "1", disabled: true });
  const taskMax = numberInput("task-max", { min: "1", max: "64", step: "1", value: "1" });
  const syncConfigs = h("input", { id: "sync-configs", name: "sync-configs", type: "checkbox", checked: true });
  const modeRadios = [
    h("input", { id: "mode-data", name: "mode", type: "radio", value: "data", checked: true }),
    h("input", { id: "mode-metadata", name: "mode", type: "radio", value: "metadata" }),
  ];
  const syncAcls = h("input", { id: "sync-acls", name: "sync-acls", type: "checkbox" });
  const delivery = h("select", { id: "wiz-delivery", name: "delivery" }, Object.entries(DELIVERY_TEXT).map(([v, label]) => h("option", { value: v }, label)));
  const throttle = numberInput("throttle", { min: "0", step: "any", placeholder: "unlimited" });
  const qps = numberInput("qps-limit", { min: "0", step: "1", placeholder: "unlimited" });
  const tuning = tuningControls("");
  const review = h("div", { class: "review", id: "review" });
  const noInstances = h(
    "p",
    { class: "notice warn", id: "no-instances", hidden: true },
    "No instance is registered yet: ",
    h("a", { href: "#/instances" }, "add the source and target instances"),
    " first.",
  );

  const check = (control, text) => h("label", { class: "check", for: control.id }, control, " ", text);

  // ---- steps -------------------------------------------------------------------------
  const panels = [
    h(
      "section",
      { class: "step", dataset: { step: "1" } },
      noInstances,
      h("div", { class: "row" }, field("name", "Task name", name), field("source.instance_id", "Source instance", srcSelect)),
      h(
        "div",
        { class: "field selection", dataset: { field: "source" } },
        h("h3", {}, "Topics to sync"),
        h("p", { class: "hint" }, "Pick topics from the list, give a regex, or both. A regex also picks up topics created later. Internal topics (__*) are never synced."),
        h(
          "div",
          { class: "selection-grid" },
          h(
            "div",
            { class: "field", dataset: { field: "source.topics" } },
            h("div", { class: "picker-head" }, topicFilter, h("button", { type: "button", class: "btn small", id: "select-shown" }, "Select shown"), h("button", { type: "button", class: "btn small", id: "select-none" }, "Clear")),
            topicList,
            pickerNote,
            h("p", { class: "field-error", role: "alert", hidden: true }),
          ),
          h(
            "div",
            {},
            field("source.topic_regex", "Topic regex", regex, "Matches the whole topic name."),
            regexCheck,
            field("source.exclude_regex", "Exclude regex", exclude, "Topics matching it are left out, even when picked."),
            excludeCheck,
            selectionPreview,
          ),
        ),
        h("p", { class: "field-error", role: "alert", hidden: true }),
      ),
    ),
    h(
      "section",
      { class: "step", dataset: { step: "2" } },
      field("target.instance_id", "Target instance", dstSelect),
      loopWarning,
      sameCluster,
      h(
        "div",
        { class: "row" },
        field("target.topic_prefix", "Target topic prefix", prefix, "Target topic = prefix + separator + source topic; empty keeps the source names."),
        field("target.separator", "Separator", separator, null, "narrow-field"),
        field("target.keep_partition", null, check(keepPartition, "Keep partitions (source partition p → target partition p)"), null, "check-field"),
      ),
      h("h3", {}, "Target topics"),
      h("p", { class: "hint" }, "Type or pick another name for a source topic's target topic; the others follow the prefix. Several source topics may share one target topic only without Keep partitions: their records are then spread by key."),
      targetNames,
      h("div", { class: "field", dataset: { field: "target.topic_map" } }, targetPreview, h("p", { class: "field-error", role: "alert", hidden: true })),
    ),
    h(
      "section",
      { class: "step", dataset: { step: "3" } },
      h(
        "fieldset",
        { class: "field fieldset", dataset: { field: "source.start" } },
        h("legend", {}, "Start point"),
        h("p", { class: "hint" }, "Where a partition with no committed progress starts: at the first start, and for topics or partitions added later."),
        h(
          "div",
          { class: "radios" },
          check(startRadios[0], "Earliest: copy everything the source still holds"),
          check(startRadios[1], "Latest: only records produced from now on"),
          h(
            "div",
            { class: "radio-line" },
            check(startRadios[2], "From a time:"),
            h("span", { class: "field inline", dataset: { field: "source.start.timestamp_ms" } }, startTime, h("p", { class: "field-error", role: "alert", hidden: true })),
          ),
        ),
        h("p", { class: "field-error", role: "alert", hidden: true }),
      ),
      h("h3", {}, "Options"),
      h(
        "fieldset",
        { class: "field fieldset", dataset: { field: "options.mode" } },
        h("legend", {}, "What the task keeps in step"),
        h(
          "div",
          { class: "radios" },
          check(modeRadios[0], "Records and topics: copy every record, create the target topics and keep their partitions and configs in step"),
          check(modeRadios[1], "Topics only (metadata): create the target topics and keep their partitions and configs in step; copy no record"),
        ),
        h("p", { class: "hint" }, "The mode can be changed later only while the task is paused."),
        h("p", { class: "field-error", role: "alert", hidden: true }),
      ),
      h(
        "div",
        { class: "row" },
        field("options.task_max", "Members (task_max)", taskMax, "Consumer/producer pairs sharing the partitions, 1 to 64."),
        field("options.throttle_mb_s", "Throttle (MB/s)", throttle, "Cap on the task's traffic; empty for none."),
        field("options.qps_limit", "QPS limit (records/s)", qps, "Cap on records copied per second; empty for none."),
      ),
      field("options.sync_topic_configs", null, check(syncConfigs, "Sync topic configs: copy the source topics' configs to the target and keep them in step")),
      field("options.sync_topic_acls", null, check(syncAcls, "Sync topic ACLs: who may read a source topic may read its copy (READ only; nobody gains a right to write)")),
      field("options.delivery", "Delivery", delivery, "Exactly once: records and progress commit in one target transaction; consumers must read with isolation.level=read_committed."),
      h("h3", {}, "Far clusters"),
      h("p", { class: "hint" }, "Producer and consumer settings for a source or target in another region; the defaults suit nearby clusters."),
      h("div", { class: "row" }, tuningFields(tuning).map(([name, label, control, hint]) => field(name, label, control, hint))),
    ),
    h("section", { class: "step", dataset: { step: "4" } }, review),
  ];

  const stepper = h(
    "ol",
    { class: "stepper", id: "stepper" },
    STEPS.map((label, i) => h("li", { dataset: { step: String(i + 1) } }, h("button", { type: "button", class: "step-link" }, h("span", { class: "step-no" }, String(i + 1)), label))),
  );
  const back = h("button", { type: "button", class: "btn", id: "wizard-back" }, "Back");
  const next = h("button", { type: "button", class: "btn primary", id: "wizard-next" }, "Next");
  const create = h("button", { type: "submit", class: "btn primary", id: "wizard-create" }, "Create task");
  const status = h("span", { class: "form-status muted", role: "status" });
  const form = h(
    "form",
    { class: "form card wizard", id: "task-wizard", novalidate: true },
    panels,
    h("div", { class: "form-error-box" }, h("p", { class: "field-error", role: "alert", hidden: true })),
    h("div", { class: "form-buttons" }, back, next, create, status),
  );
  view.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/tasks" }, "Sync tasks"), " / new"),
    h("div", { class: "page-head" }, h("h1", {}, "Create a sync task")),
    stepper,
    form,
  );

  // ---- derived values ----------------------------------------------------------------
  const selection = () => {
    const inc = fullmatch(regex.value.trim());
    const exc = fullmatch(exclude.value.trim());
    const names = state.srcTopics ? state.srcTopics.map((t) => t.name) : [];
    for (const n of state.selected) if (!names.includes(n)) names.push(n);
    const matched = names.filter(
      (n) => !isInternal(n) && !(exc.re && exc.re.test(n)) && (state.selected.has(n) || (inc.re && inc.re.test(n))),
    );
    return { inc, exc, matched: matched.sort() };
  };

  const prefixName = (n) => (prefix.value ? `${prefix.value}${separator.value}${n}` : n);
  const mappedName = (n) => (state.topicMap.get(n) || "").trim();
  const targetName = (n) => mappedName(n) || prefixName(n);
  /** target.topic_map: the selected topics given a name other than the prefix's. */
  const topicMap = (matched) =>
    Object.fromEntries(matched.filter((n) => mappedName(n) && mappedName(n) !== prefixName(n)).map((n) => [n, mappedName(n)]));

  const body = () => {
    const startType = startRadios.find((r) => r.checked).value;
    const start = { type: startType };
    if (startType === "timestamp" && startTime.value) start.timestamp_ms = new Date(startTime.value).getTime();
    const options = {
      task_max: taskMax.value === "" ? 1 : Number(taskMax.value),
      sync_topic_configs: syncConfigs.checked,
      mode: modeRadios.find((r) => r.checked).value,
      sync_topic_acls: syncAcls.checked,
      delivery: delivery.value,
    };
    if (throttle.value !== "") options.throttle_mb_s = Number(throttle.value);
    if (qps.value !== "") options.qps_limit = Number(qps.value);
    Object.assign(options, tuningValues(tuning));
    return {
      name: name.value.trim(),
      source: {
        instance_id: srcSelect.value,
        topics: [...state.selected].sort(),
        topic_regex: regex.value.trim() || null,
        exclude_regex: exclude.value.trim() || null,
        start,
      },
      target: {
        instance_id: dstSelect.value,
        topic_prefix: prefix.value,
        separator: separator.value,
        keep_partition: keepPartition.checked,
        topic_map: topicMap(selection().matched),
      },
      options,
    };
  };

  /** Sentences about existing tasks that go the other way between the same clusters. */
  const loops = () => {
    const ids = byId();
    const src = ids.get(srcSelect.value);
    const dst = ids.get(dstSelect.value);
    if (!src || !dst) return [];
    const out = [];
    for (const t of state.tasks) {
      if (t.status === "Terminating") continue;
      const ts = ids.get(t.source.instance_id);
      const td = ids.get(t.target.instance_id);
      if (ts && td && ts.cluster_id === dst.cluster_id && td.cluster_id === src.cluster_id) {
        out.push(
          `This task would close a sync loop with task ${t.name} (${t.id}), which syncs ${ts.name} → ${td.name}. ` +
            "ksync copies each record once (the ksync-origin header stops it from coming back), but check that both directions are what you want.",
        );
      }
    }
    return out;
  };

  // ---- rendering ---------------------------------------------------------------------
  const instanceOptions = (select, placeholder) => {
    const value = select.value;
    select.replaceChildren(
      h("option", { value: "" }, placeholder),
      ...state.instances.map((i) => h("option", { value: i.id }, `${i.name} — ${i.bootstrap_servers} (${i.id})`)),
    );
    if (state.instances.some((i) => i.id === value)) select.value = value;
  };

  let pickerKey = "";
  const renderPicker = () => {
    const topics = state.srcTopics || [];
    const q = topicFilter.value.trim().toLowerCase();
    const key = `${topics.map((t) => `${t.name}/${t.partitions}`).join(",")}|${q}`;
    if (key !== pickerKey) {
      pickerKey = key;
      const frag = document.createDocumentFragment();
      for (const t of topics) {
        if (q && !t.name.toLowerCase().includes(q)) continue;
        const box = h("input", { type: "checkbox", value: t.name, dataset: { topic: t.name }, checked: state.selected.has(t.name) });
        frag.appendChild(
          h("label", { class: "pick" }, box, h("span", { class: "mono" }, t.name), h("span", { class: "muted small" }, `${t.partitions} partition${t.partitions === 1 ? "" : "s"} · RF ${t.replication_factor}`)),
        );
      }
      clear(topicList).appendChild(frag);
    } else {
      for (const box of topicList.querySelectorAll("input[type=checkbox]")) box.checked = state.selected.has(box.value);
    }
    if (!srcSelect.value) pickerNote.textContent = "Choose the source instance to see its topics.";
    else if (state.srcError) pickerNote.textContent = `Cannot read the topics of this instance: ${state.srcError}`;
    else if (!state.srcTopics) pickerNote.textContent = "Reading topics…";
    else pickerNote.textContent = `${state.selected.size} of ${topics.length} topic${topics.length === 1 ? "" : "s"} picked`;
    pickerNote.classList.toggle("error-text", Boolean(state.srcError));
  };

  const renderSelection = () => {
    const { inc, exc, matched } = selection();
    regexCheck.textContent = inc.error ? `The browser cannot read this regex (${inc.error}); the server checks it when you create the task.` : "";
    excludeCheck.textContent = exc.error ? `The browser cannot read this regex (${exc.error}); the server checks it when you create the task.` : "";
    const any = state.selected.size || regex.value.trim();
    clear(selectionPreview).append(
      h("div", { class: "preview-title" }, any ? `${matched.length} topic${matched.length === 1 ? "" : "s"} selected now` : "Nothing selected yet"),
      matched.length
        ? h("div", { class: "chips", id: "matched-topics" }, matched.slice(0, 200).map((n) => h("span", { class: "chip mono" }, n)), matched.length > 200 ? h("span", { class: "muted" }, ` +${matched.length - 200} more`) : null)
        : h("p", { class: "muted small" }, regex.value.trim() ? "The regex matches no topic right now; topics created later that match it will be synced." : "Pick topics or type a regex."),
    );
  };

  const renderTarget = () => {
    const ids = byId();
    const src = ids.get(srcSelect.value);
    const dst = ids.get(dstSelect.value);
    const loopTexts = loops();
    loopWarning.hidden = loopTexts.length === 0;
    clear(loopWarning).append(...loopTexts.map((t) => h("p", {}, h("b", {}, "Sync loop. "), t)));
    sameCluster.hidden = !(src && dst && src.cluster_id === dst.cluster_id);
    sameCluster.textContent = `Source and target are the same Kafka cluster (${src ? src.cluster_id : ""}): set a prefix so that topics are not synced onto themselves.`;

    const { matched } = selection();
    // Every render keeps each "name it" field as the same element (its value, caret and
    // any typing under way): a render that replaced the field someone was typing into,
    // fired by a poll or a debounce, dropped what was typed.
    const fields = new Map([...targetPreview.querySelectorAll("input.map-name")].map((el) => [el.dataset.source, el]));
    // Taking a field out of the page blurs it: note the one being typed in (before it is
    // taken out, when the page still knows) to focus it again once it is back.
    const typing = document.activeElement && document.activeElement.classList.contains("map-name") ? document.activeElement : null;
    const caret = typing ? [typing.selectionStart, typing.selectionEnd] : null;
    clear(targetPreview);
    if (!dst) {
      targetPreview.append(h("p", { class: "muted" }, "Choose the target instance."));
      return;
    }
    if (state.dstError) targetPreview.append(h("p", { class: "notice error" }, `Cannot read the topics of the target: ${state.dstError}`));
    if (!matched.length) {
      targetPreview.append(h("p", { class: "muted" }, "No topic is selected right now."));
      return;
    }
    clear(targetNames).append(...[...(state.dstTopics ? state.dstTopics.keys() : [])].sort().map((t) => h("option", { value: t })));
    const srcBy = new Map((state.srcTopics || []).map((t) => [t.name, t]));
    const sharing = new Map(); // target topic -> the selected source topics going to it
    for (const n of matched) sharing.set(targetName(n), [...(sharing.get(targetName(n)) || []), n]);
    const rows = matched.map((n) => {
      const s = srcBy.get(n);
      const tn = targetName(n);
      const existing = state.dstTopics ? state.dstTopics.get(tn) : null;
      const rf = s ? Math.min(s.replication_factor, dst.broker_count || 1) : null;
      const others = sharing.get(tn).filter((o) => o !== n);
      let what;
      if (others.length && keepPartition.checked)
        what = h("span", { class: "error-text" }, `shared with ${others.join(", ")}: partitions of different topics cannot keep their numbers in one topic; turn Keep partitions off`);
      else if (src && dst && src.cluster_id === dst.cluster_id && tn === n)
        what = h("span", { class: "error-text" }, "the same topic on the same cluster: give it another name");
      else if (!state.dstTopics) what = h("span", { class: "muted" }, "checking…");
      else if (!existing) what = h("span", { class: "ok-text" }, "will be created");
      else if (s && existing.partitions < s.partitions && keepPartition.checked)
        what = h("span", { class: "error-text" }, `exists with ${existing.partitions} partitions, fewer than the source's ${s.partitions}: the task will fail unless partitions are added`);
      else what = h("span", {}, `exists (${existing.partitions} partitions): records are added to it`);
      if (others.length && !keepPartition.checked) what = h("span", {}, what, h("span", { class: "muted" }, ` · merged with ${others.join(", ")}, spread by key`));
      const kept = fields.get(n);
      if (kept) kept.placeholder = prefixName(n);
      const rename = kept || h("input", {
        type: "text",
        class: "mono map-name",
        list: "target-topic-names",
        maxlength: 249,
        placeholder: prefixName(n),
        value: state.topicMap.get(n) || "",
        autocomplete: "off",
        spellcheck: "false",
        "aria-label": `Target topic for ${n}`,
        dataset: { source: n },
      });
      return h(
        "tr",
        { dataset: { source: n } },
        h("td", { class: "mono" }, n),
        h("td", { class: "mono target-topic" }, tn),
        h("td", {}, rename),
        h("td", { class: "num" }, s ? fmtInt(s.partitions) : DASH),
        h("td", { class: "num" }, existing ? DASH : rf === null ? DASH : String(rf)),
        h("td", {}, what),
      );
    });
    targetPreview.append(
      h(
        "table",
        { class: "table compact", id: "target-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "Source topic"), h("th", {}, "Target topic"), h("th", {}, "Name it"), h("th", { class: "num" }, "Partitions"), h("th", { class: "num" }, "New RF"), h("th", {}, "On the target"))),
        h("tbody", {}, rows),
      ),
      h(
        "p",
        { class: "hint" },
        `New target topics get the source's partition count, a replication factor of min(source RF, ${dst.broker_count} target broker${dst.broker_count === 1 ? "" : "s"})`,
        syncConfigs.checked
          ? " and the source topic's configs (except replication throttles, min.insync.replicas, unclean.leader.election.enable and message.timestamp.*)."
          : " and the target cluster's default configs (topic configs are not synced).",
      ),
    );
    if (typing && typing.isConnected) {
      typing.focus();
      typing.setSelectionRange(caret[0], caret[1]);
    }
  };

  const renderReview = () => {
    const b = body();
    const ids = byId();
    const { matched } = selection();
    const inst = (id) => {
      const i = ids.get(id);
      return i ? `${i.name} (${id}, cluster ${i.cluster_id})` : id || DASH;
    };
    const warnings = [...loops()];
    if (!b.source.topics.length && !b.source.topic_regex) warnings.push("No topic is picked and no regex given: the API will refuse an empty selection.");
    else if (!matched.length) warnings.push("No topic matches right now: the task will sync topics as they appear.");
    const o = b.options;
    clear(review).append(
      ...warnings.map((w) => h("p", { class: "notice warn" }, w)),
      h(
        "dl",
        { class: "facts" },
        [
          ["Name", b.name || DASH],
          ["Source", inst(b.source.instance_id)],
          ["Topics", `${matched.length} now${matched.length ? `: ${matched.slice(0, 10).join(", ")}${matched.length > 10 ? " …" : ""}` : ""}`],
          ["Picked", b.source.topics.join(", ") || DASH],
          ["Regex", b.source.topic_regex || DASH],
          ["Exclude", b.source.exclude_regex || DASH],
          ["Target", inst(b.target.instance_id)],
          ["Target names", b.target.topic_prefix ? `${b.target.topic_prefix}${b.target.separator}<topic>` : "same as the source"],
          ["Named", Object.entries(b.target.topic_map).map(([from, to]) => `${from} → ${to}`).join(", ") || DASH],
          ["Keep partition", b.target.keep_partition ? "yes" : "no"],
          ["Start point", startText(b.source.start)],
          ["Keeps in step", o.mode === "metadata" ? "topics only: no record is copied" : "records and topics"],
          ["Members", String(o.task_max)],
          ["Sync topic configs", o.sync_topic_configs ? "yes" : "no"],
          ["Sync topic ACLs", o.sync_topic_acls ? "yes (READ only)" : "no"],
          ["Delivery", DELIVERY_TEXT[o.delivery] || o.delivery],
          ["Throttle", o.throttle_mb_s ? `${o.throttle_mb_s} MB/s` : "none"],
          ["QPS limit", o.qps_limit ? `${o.qps_limit} records/s` : "none"],
          ...tuningRows(o),
        ].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
      ),
      h("details", {}, h("summary", {}, "Request body (POST /api/v1/tasks)"), h("pre", { class: "code", id: "request-body" }, JSON.stringify(b, null, 2))),
    );
  };

  const renderAll = () => {
    renderPicker();
    renderSelection();
    renderTarget();
    if (state.step === 4) renderReview();
  };

  const go = (step) => {
    state.step = step;
    panels.forEach((p, i) => {
      p.hidden = i + 1 !== step;
    });
    for (const li of stepper.children) {
      const n = Number(li.dataset.step);
      li.classList.toggle("current", n === step);
      li.classList.toggle("done", n < step);
    }
    back.hidden = step === 1;
    next.hidden = step === 4;
    create.hidden = step !== 4;
    renderAll();
  };

  // ---- data --------------------------------------------------------------------------
  let srcLoad = 0;
  const loadSource = async () => {
    const id = srcSelect.value;
    const mine = ++srcLoad;
    if (!id) {
      state.srcTopics = null;
      state.srcError = null;
      renderAll();
      return;
    }
    try {
      const r = await get(`/instances/${encodeURIComponent(id)}/topics`);
      if (mine !== srcLoad || !ctx.alive) return;
      state.srcTopics = r.topics;
      state.srcError = null;
    } catch (exc) {
      if (mine !== srcLoad) return;
      state.srcTopics = null;
      state.srcError = exc.message;
    }
    renderAll();
  };
  let dstLoad = 0;
  const loadTarget = async () => {
    const id = dstSelect.value;
    const mine = ++dstLoad;
    state.dstTopics = null;
    state.dstError = null;
    if (!id) return renderAll();
    renderAll();
    try {
      const r = await get(`/instances/${encodeURIComponent(id)}/topics`);
      if (mine !== dstLoad || !ctx.alive) return;
      state.dstTopics = new Map(r.topics.map((t) => [t.name, t]));
    } catch (exc) {
      if (mine !== dstLoad) return;
      state.dstError = exc.message;
    }
    renderAll();
  };

  const suggestName = () => {
    if (state.nameTouched) return;
    const ids = byId();
    const src = ids.get(srcSelect.value);
    const dst = ids.get(dstSelect.value);
    if (!src) return;
    const base = dst ? `${src.name}-to-${dst.name}` : `${src.name}-sync`;
    const taken = new Set(state.tasks.map((t) => t.name));
    let candidate = base;
    for (let i = 2; taken.has(candidate); i += 1) candidate = `${base}-${i}`;
    name.value = candidate.slice(0, 128);
  };

  // ---- events ------------------------------------------------------------------------
  name.addEventListener("input", () => {
    state.nameTouched = true;
  });
  srcSelect.addEventListener("change", () => {
    state.selected.clear();
    pickerKey = "";
    suggestName();
    loadSource();
  });
  dstSelect.addEventListener("change", () => {
    suggestName();
    loadTarget();
    // The loop check compares with the tasks as they are now, not as the page found them.
    get("/tasks")
      .then((r) => {
        if (!ctx.alive) return;
        state.tasks = r.tasks;
        renderTarget();
      })
      .catch(() => {});
  });
  topicList.addEventListener("change", (ev) => {
    const box = ev.target;
    if (box.type !== "checkbox") return;
    if (box.checked) state.selected.add(box.value);
    else state.selected.delete(box.value);
    renderAll();
  });
  topicFilter.addEventListener("input", renderPicker);
  const liveTarget = debounce(renderTarget, 120);
  // The API's refusal of the names is about the names as they were: gone once they change.
  const namesChanged = () => {
    const slot = form.querySelector('[data-field="target.topic_map"] > .field-error');
    slot.hidden = true;
    slot.parentElement.classList.remove("has-error");
  };
  targetPreview.addEventListener("input", (ev) => {
    const box = ev.target;
    if (!box.classList.contains("map-name")) return;
    if (box.value.trim()) state.topicMap.set(box.dataset.source, box.value);
    else state.topicMap.delete(box.dataset.source);
    namesChanged();
    liveTarget();
  });
  keepPartition.addEventListener("change", namesChanged);
  form.querySelector("#select-shown").addEventListener("click", () => {
    for (const box of topicList.querySelectorAll("input[type=checkbox]")) state.selected.add(box.value);
    renderAll();
  });
  form.querySelector("#select-none").addEventListener("click", () => {
    state.selected.clear();
    renderAll();
  });
  const live = debounce(renderAll, 120);
  for (const el of [regex, exclude, prefix, separator]) el.addEventListener("input", live);
  for (const el of [keepPartition, syncConfigs]) el.addEventListener("change", renderAll);
  for (const r of startRadios) {
    r.addEventListener("change", () => {
      startTime.disabled = !startRadios[2].checked;
      if (!startTime.disabled) startTime.focus();
    });
  }
  for (const li of stepper.children) li.querySelector("button").addEventListener("click", () => go(Number(li.dataset.step)));
  back.addEventListener("click", () => go(Math.max(1, state.step - 1)));

  const requireChoice = (select, fieldName, text) => {
    if (select.value) return true;
    const slot = form.querySelector(`[data-field="${fieldName}"] > .field-error`);
    slot.textContent = text;
    slot.hidden = false;
    slot.parentElement.classList.add("has-error");
    select.focus();
    return false;
  };
  next.addEventListener("click", () => {
    clearErrors(form);
    if (state.step === 1 && !requireChoice(srcSelect, "source.instance_id", "Choose the instance to copy from.")) return;
    if (state.step === 2 && !requireChoice(dstSelect, "target.instance_id", "Choose the instance to copy to.")) return;
    go(Math.min(4, state.step + 1));
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (state.step !== 4) return;
    clearErrors(form);
    create.disabled = true;
    status.textContent = "Creating…";
    try {
      const task = await post("/tasks", body());
      flash(`Task ${task.name} created as ${task.id}: it is ${task.status} and becomes Running once a worker runs it`);
      for (const w of task.warnings || []) flash(`${task.name}: ${w}`, "warn", 15_000);
      window.location.hash = "#/tasks";
    } catch (exc) {
      status.textContent = "";
      const used = showErrors(form, exc, TASK_ROOTS);
      const firstStep = used.map((el) => el.closest("section.step")).find(Boolean);
      if (firstStep) go(Number(firstStep.dataset.step));
      if (!(exc instanceof ApiError)) throw exc;
    } finally {
      create.disabled = false;
    }
  });

  // ---- start -------------------------------------------------------------------------
  go(1);
  ctx.poll(async () => {
    const [inst, tasks] = await Promise.all([get("/instances"), get("/tasks")]);
    if (!ctx.alive) return;
    state.instances = inst.instances;
    state.tasks = tasks.tasks;
    noInstances.hidden = state.instances.length > 0;
    instanceOptions(srcSelect, state.instances.length ? "Choose the source instance" : "No instances: add one first");
    instanceOptions(dstSelect, state.instances.length ? "Choose the target instance" : "No instances: add one first");
    renderTarget();
  }, 10_000);
  // The source's topic list stays live while the wizard is open.
  ctx.poll(async () => {
    if (srcSelect.value && state.srcTopics) await loadSource();
  }, 10_000);
}
