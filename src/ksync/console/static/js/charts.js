// Hand-drawn SVG line charts: time on x, one or more series on y, gaps where data is
// missing, a legend with the latest values and a hover read-out.

import { clear, fmtClock, fmtTime, h, s } from "./dom.js";

const HEIGHT = 180;
const M = { left: 54, right: 14, top: 12, bottom: 24 };
const MINUTE = 60_000;
const TICK_MINUTES = [1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440];

/** A round number >= v (1, 2, 2.5, 5 × 10^n). */
function niceCeil(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Milliseconds since the epoch from an API time (ISO string or epoch seconds/ms). */
export function toMs(at) {
  if (typeof at === "number") return at < 1e12 ? at * 1000 : at;
  return new Date(at).getTime();
}

/**
 * Draw a chart into `container`.
 * opts: {series: [{name, points: [{t, v}]}], from, to, step (ms; larger gaps break the
 * line), format: (v) => text, empty: text when no series has a value}
 */
export function lineChart(container, opts) {
  const { series, from, to, format, empty = "No data yet" } = opts;
  const step = opts.step || 10_000;
  clear(container);
  container.classList.add("chart");
  const width = Math.max(280, Math.floor(container.clientWidth || 560));
  const innerW = width - M.left - M.right;
  const innerH = HEIGHT - M.top - M.bottom;
  let max = 0;
  let count = 0;
  for (const se of series) {
    for (const p of se.points) {
      if (p.v !== null && p.v !== undefined && !Number.isNaN(p.v)) {
        count += 1;
        if (p.v > max) max = p.v;
      }
    }
  }
  container.dataset.points = String(count);
  container.dataset.max = String(max);
  // Four grid steps of a round size: 0, 5, 10, 15, 20 rather than 0, 6.25, 12.5 …
  const yMax = 4 * niceCeil((max * 1.05) / 4);
  const x = (t) => M.left + ((t - from) / (to - from)) * innerW;
  const y = (v) => M.top + innerH - (v / yMax) * innerH;

  const svg = s("svg", { class: "chart-svg", viewBox: `0 0 ${width} ${HEIGHT}`, width, height: HEIGHT, role: "img", "aria-label": opts.label || "chart" });
  // Grid and y labels.
  for (let i = 0; i <= 4; i += 1) {
    const v = (yMax * i) / 4;
    const yy = y(v);
    svg.append(
      s("line", { class: "grid", x1: M.left, x2: width - M.right, y1: yy, y2: yy }),
      s("text", { class: "axis-label", x: M.left - 6, y: yy + 4, "text-anchor": "end" }, format(v)),
    );
  }
  // Time ticks.
  const span = to - from;
  const tickMin = TICK_MINUTES.find((m) => span / (m * MINUTE) <= 6) || 1440;
  const tickMs = tickMin * MINUTE;
  const offset = new Date(from).getTimezoneOffset() * MINUTE;
  for (let t = Math.ceil((from - offset) / tickMs) * tickMs + offset; t <= to; t += tickMs) {
    const xx = x(t);
    svg.append(
      s("line", { class: "grid vertical", x1: xx, x2: xx, y1: M.top, y2: M.top + innerH }),
      s("text", { class: "axis-label", x: xx, y: HEIGHT - 6, "text-anchor": "middle" }, fmtClock(new Date(t))),
    );
  }
  svg.append(s("line", { class: "axis", x1: M.left, x2: width - M.right, y1: M.top + innerH, y2: M.top + innerH }));

  // Lines: break where a value is missing or the next point is more than 2.5 steps away.
  series.forEach((se, i) => {
    let d = "";
    let prevT = null;
    let single = [];
    for (const p of se.points) {
      if (p.v === null || p.v === undefined || Number.isNaN(p.v) || p.t < from || p.t > to) {
        prevT = null;
        continue;
      }
      const cmd = prevT !== null && p.t - prevT <= step * 2.5 ? "L" : "M";
      if (cmd === "M") single.push(p);
      else single = single.filter((q) => q.t !== prevT);
      d += `${cmd}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
      prevT = p.t;
    }
    if (d) svg.append(s("path", { class: `series-line series-${i % 8}`, d, dataset: { series: se.name } }));
    // A point with no neighbour would draw nothing: show it as a dot.
    for (const p of single) svg.append(s("circle", { class: `series-dot series-${i % 8}`, cx: x(p.t), cy: y(p.v), r: 2.5 }));
  });

  const cursor = s("line", { class: "cursor", x1: 0, x2: 0, y1: M.top, y2: M.top + innerH, visibility: "hidden" });
  const overlay = s("rect", { class: "overlay", x: M.left, y: M.top, width: innerW, height: innerH });
  svg.append(cursor, overlay);
  const tip = h("div", { class: "chart-tip", hidden: true });

  const legend = h(
    "div",
    { class: "legend" },
    series.map((se, i) => {
      const last = [...se.points].reverse().find((p) => p.v !== null && p.v !== undefined);
      return h("span", { class: "legend-item" }, h("span", { class: `swatch series-${i % 8}` }), se.name, h("b", {}, last ? ` ${format(last.v)}` : " —"));
    }),
  );
  const frame = h("div", { class: "chart-frame" }, svg, tip);
  if (!count) frame.append(h("div", { class: "chart-empty" }, empty));
  container.append(frame, legend);

  overlay.addEventListener("mousemove", (ev) => {
    const box = svg.getBoundingClientRect();
    const px = ((ev.clientX - box.left) / box.width) * width;
    const t = from + ((px - M.left) / innerW) * (to - from);
    const lines = [];
    let at = null;
    series.forEach((se, i) => {
      let best = null;
      for (const p of se.points) if (best === null || Math.abs(p.t - t) < Math.abs(best.t - t)) best = p;
      if (best && Math.abs(best.t - t) <= step * 1.5) {
        at = best.t;
        lines.push(h("div", {}, h("span", { class: `swatch series-${i % 8}` }), `${se.name}: `, h("b", {}, best.v === null || best.v === undefined ? "—" : format(best.v))));
      }
    });
    if (at === null) {
      tip.hidden = true;
      cursor.setAttribute("visibility", "hidden");
      return;
    }
    cursor.setAttribute("x1", x(at));
    cursor.setAttribute("x2", x(at));
    cursor.setAttribute("visibility", "visible");
    tip.replaceChildren(h("div", { class: "muted" }, fmtTime(new Date(at))), ...lines);
    tip.hidden = false;
    const left = (x(at) / width) * box.width;
    tip.classList.toggle("flip", left > box.width * 0.6);
    tip.style.left = `${left}px`;
  });
  overlay.addEventListener("mouseleave", () => {
    tip.hidden = true;
    cursor.setAttribute("visibility", "hidden");
  });
  return count;
}
