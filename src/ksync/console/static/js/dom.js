// Small DOM and formatting helpers shared by every page. No framework: elements are built
// with h() (HTML) and s() (SVG), text always goes in as text nodes (never as HTML).

const SVG_NS = "http://www.w3.org/2000/svg";

function applyAttrs(el, attrs) {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else if (key in el && !(el instanceof SVGElement) && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** An HTML element: h("a", {href: "#/x", class: "btn"}, "text", child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export const DASH = "—";

export function fmtInt(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return DASH;
  return Math.round(n).toLocaleString("en-US");
}

function trimZeros(str) {
  return str.includes(".") ? str.replace(/0+$/, "").replace(/\.$/, "") : str;
}

function fixed(v) {
  const abs = Math.abs(v);
  return trimZeros(abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : v.toFixed(2));
}

/** 1234 -> "1.23k"; for rates and counts where the exact figure does not matter. */
export function fmtSi(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return DASH;
  const units = ["", "k", "M", "G", "T", "P"];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return fixed(v) + units[i];
}

export function fmtBytes(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return DASH;
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${fixed(v)} ${units[i]}`;
}

export function fmtMs(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return DASH;
  if (n >= 1000) return `${fixed(n / 1000)} s`;
  return `${fixed(n)} ms`;
}

function pad(n) {
  return String(n).padStart(2, "0");
}

/** ISO date -> "2024-05-01 13:45:12" in the browser's time zone. */
export function fmtTime(value) {
  if (!value) return DASH;
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtClock(d, withSeconds = false) {
  return withSeconds ? `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fmtAgo(value) {
  if (!value) return DASH;
  const secs = Math.max(0, (Date.now() - new Date(value).getTime()) / 1000);
  if (secs < 60) return `${Math.round(secs)} s ago`;
  if (secs < 3600) return `${Math.round(secs / 60)} min ago`;
  if (secs < 86400) return `${Math.round(secs / 3600)} h ago`;
  return `${Math.round(secs / 86400)} d ago`;
}

export const STATUSES = ["Unassigned", "Running", "Paused", "Failed", "Terminating"];

/** The status badge; class `badge status-<Status>` (spelled as the API spells it). */
export function badge(status) {
  const known = STATUSES.includes(status);
  return h("span", { class: `badge status-${known ? status : "unknown"}`, dataset: { status } }, status || "unknown");
}

/** Debounce `fn` by `ms`. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
