// The console's only way to the server: the public REST API under /api/v1, the same calls
// a user scripts against. Errors come back as {"error": {"code", "message"}}; validation
// messages start with the field path ("source.topic_regex: …"), which fieldErrors() uses
// to put each message next to the field it concerns.

import { h } from "./dom.js";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const AUTH_ON = () => document.body.dataset.auth === "on";
/** Whether the signed-in key may only read (the server says so in the page it served). */
export const READ_ONLY = () => document.body.dataset.access === "read-only";

/** Call the API; resolves to the parsed JSON (null for 204), rejects with ApiError. */
export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`/api/v1${path}`, init);
  } catch (exc) {
    throw new ApiError(0, "network", `the ksync server did not answer (${exc.message})`);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (response.status === 401 && AUTH_ON()) {
    window.location.assign("/login");
  }
  if (!response.ok) {
    const err = data && data.error;
    throw new ApiError(
      response.status,
      (err && err.code) || `http_${response.status}`,
      (err && err.message) || `${response.status} ${response.statusText || "error"}`,
    );
  }
  return data;
}

/**
 * POST `body` and call `onLine` with each line of a newline-delimited JSON answer as it
 * arrives (the cutover streams its steps); rejects with ApiError like `api`. `signal`
 * aborts it (the server stops at its next step).
 */
export async function postStream(path, body, onLine, signal) {
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { accept: "application/x-ndjson", "content-type": "application/json" },
      body: JSON.stringify(body),
      signal,
    });
  } catch (exc) {
    throw new ApiError(0, "network", `the ksync server did not answer (${exc.message})`);
  }
  if (response.status === 401 && AUTH_ON()) window.location.assign("/login");
  if (!response.ok) {
    let err = null;
    try {
      err = (await response.json()).error;
    } catch {
      err = null;
    }
    throw new ApiError(response.status, (err && err.code) || `http_${response.status}`, (err && err.message) || `${response.status} ${response.statusText || "error"}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let rest = "";
  for (;;) {
    const { value, done } = await reader.read();
    rest += decoder.decode(value || new Uint8Array(), { stream: !done });
    const lines = rest.split("\n");
    rest = lines.pop();
    for (const line of lines) if (line.trim()) onLine(JSON.parse(line));
    if (done) break;
  }
  if (rest.trim()) onLine(JSON.parse(rest));
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);

/** GET that answers null on 404 (endpoints that a server may not have yet). */
export async function getOptional(path) {
  try {
    return await get(path);
  } catch (exc) {
    if (exc instanceof ApiError && (exc.status === 404 || exc.status === 405)) return null;
    throw exc;
  }
}

const HEAD = /^([A-Za-z_][\w]*(?:\.[\w]+)*): ([\s\S]*)$/;

/**
 * Split an API error message into [{field, text}]. Several validation errors are joined
 * with "; ", and a message may itself contain "; " or "word: ", so a piece starts a new
 * error only when its head is one of `roots` (the form's top-level field names).
 */
export function fieldErrors(message, roots) {
  const out = [];
  for (const piece of message.split("; ")) {
    const m = HEAD.exec(piece);
    const root = m ? m[1].split(".")[0] : null;
    if (m && roots.includes(root)) out.push({ field: m[1], text: m[2] });
    else if (out.length) out[out.length - 1].text += `; ${piece}`;
    else out.push({ field: null, text: piece });
  }
  return out;
}

/** Remove the error messages shown in `form`. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) {
    el.textContent = "";
    el.hidden = true;
  }
  for (const el of form.querySelectorAll(".has-error")) el.classList.remove("has-error");
}

/** The field container for an API path: the path itself, or its nearest parent. */
export function fieldFor(form, path) {
  let parts = path ? path.split(".") : [];
  while (parts.length) {
    const el = form.querySelector(`[data-field="${parts.join(".")}"]`);
    if (el) return el;
    parts = parts.slice(0, -1);
  }
  return null;
}

function errorSlot(container) {
  let slot = [...container.children].find((c) => c.classList.contains("field-error"));
  if (!slot) {
    slot = h("p", { class: "field-error", role: "alert" });
    container.appendChild(slot);
  }
  return slot;
}

/**
 * Show an API error in `form`: each message next to its field, the rest in the form's
 * `.form-error`. `codeFields` maps error codes that carry no field path to a field
 * (e.g. instance_unreachable -> bootstrap_servers). Returns the containers used.
 */
export function showErrors(form, exc, roots, codeFields = {}) {
  clearErrors(form);
  const message = exc instanceof ApiError ? exc.message : String(exc && exc.message ? exc.message : exc);
  let pieces = fieldErrors(message, roots);
  if (exc instanceof ApiError && codeFields[exc.code]) pieces = [{ field: codeFields[exc.code], text: message }];
  const used = [];
  for (const { field, text } of pieces) {
    const container = (field && fieldFor(form, field)) || form.querySelector(".form-error-box") || form;
    const slot = errorSlot(container);
    slot.textContent = slot.hidden || !slot.textContent ? text : `${slot.textContent}; ${text}`;
    slot.hidden = false;
    container.classList.add("has-error");
    used.push(container);
  }
  return used;
}
