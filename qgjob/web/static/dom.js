// Building the page: elements with text nodes and attributes only (never HTML from data),
// formatting, and reading the JSON API.

export const STATUSES = ["queued", "running", "completed", "failed", "cancelled"];
export const TARGETS = ["emulator", "device", "browserstack"];
const SVG_NS = "http://www.w3.org/2000/svg";

// ---------------------------------------------------------------------------- building DOM

export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attrs);
  append(node, children);
  return node;
}

export function s(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttributes(node, attrs);
  append(node, children);
  return node;
}

function setAttributes(node, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

export function badge(status) {
  return h("span", { class: `badge ${status || ""}`, "data-status": status || "" },
    status || "running");
}

export function table(headers, rows, empty) {
  if (!rows.length) return h("div", { class: "empty" }, empty);
  // Each cell names its column: on a phone the rows become cards that show the names.
  for (const row of rows) {
    [...row.children].forEach((cell, i) => { if (headers[i]) cell.dataset.label = headers[i]; });
  }
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((title) =>
      h("th", { class: title.startsWith("#") || title === "Queued" ? "num" : null }, title)))),
    h("tbody", {}, rows));
}

// A filter form opens `#PATH?name=value…` (its filled fields) when submitted or when one of
// its selects changes.
export function filtersToHash(form, path) {
  const apply = (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (value) query.set(name, value);
    location.hash = `#${path}${query.toString() ? `?${query}` : ""}`;
  };
  form.addEventListener("submit", apply);
  form.addEventListener("change", (event) => { if (event.target.tagName === "SELECT") apply(event); });
  return form;
}

// Where a job's page is.
export function jobHref(jobId) {
  return `#/jobs/${encodeURIComponent(jobId)}`;
}

export function jobLink(jobId) {
  return jobId ? h("a", { class: "mono", href: jobHref(jobId) }, jobId) : "-";
}

// A job named by its test, linked to its page.
export function testLink(job) {
  return h("a", { class: "mono", href: jobHref(job.job_id) }, job.test_path);
}

// An error on one line; a longer one opens in place (without following the row's link).
// `opened` holds the keys of errors the user opened, so they stay open across refreshes.
export function errorLine(key, error, opened) {
  if (!error) return "";
  const [first, ...rest] = error.trim().split("\n");
  if (!rest.length && first.length <= 120) return first;
  return h("details", {
    class: "error-line", open: opened.has(key),
    onclick: (event) => event.stopPropagation(),
    ontoggle: (event) => {
      if (event.currentTarget.open) opened.add(key); else opened.delete(key);
    } },
  h("summary", {}, first), h("pre", { class: "error-rest" }, error.trim()));
}

// The running jobs by id (for the devices that run them).
export async function runningJobs() {
  const running = await getJson("/jobs?status=running&limit=1000");
  return new Map(running.jobs.map((job) => [job.job_id, job]));
}

// What a device runs: its test, build and how long it has run, linked to the job.
export function runningCell(jobId, jobs) {
  if (!jobId) return "-";
  const job = jobs.get(jobId);
  if (!job) return jobLink(jobId);
  return h("span", { class: "running-test" },
    testLink(job),
    h("span", { class: "muted" }, ` on ${job.app_version_id}`,
      job.started_at ? ` · ${duration(secondsSince(job.started_at))}` : " · starting"));
}

// ---------------------------------------------------------------------------- formatting

export function clock(iso) {
  if (!iso) return "-";
  return new Date(iso).toLocaleTimeString([], { hour12: false });
}

// A moment with its date when it is not today: lists span days.
export function when(iso) {
  if (!iso) return "-";
  const moment = new Date(iso);
  const time = clock(iso);
  if (moment.toDateString() === new Date().toDateString()) return time;
  return `${moment.toLocaleDateString([], { month: "short", day: "numeric" })} ${time}`;
}

export function secondsSince(iso) {
  return Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
}

// How long a job ran, or has run so far; null while it waits (to start, or to retry).
export function jobSeconds(job) {
  if (!job.started_at || job.status === "queued") return null;
  if (!job.finished_at) return secondsSince(job.started_at);
  return Math.max(0, (Date.parse(job.finished_at) - Date.parse(job.started_at)) / 1000);
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}


// ---------------------------------------------------------------------------- talking to the API

// With API tokens configured, the dashboard sends one (an admin token sees every org, a
// submitter token its own org). It lives in this tab's session storage only.
const TOKEN_KEY = "qgjob-token";

export class NeedToken extends Error {}

// A 403: this token's role may not read that (a submitter's token and GET /timeline).
export class Forbidden extends Error {}

// What GET /devices said of each token this tab sent it: whether it may read every org's
// work (`may_read_all`: an admin's, or any on a public dashboard). Pages of every org's work
// (the timeline) are not asked for with a token that may not: that was a 403 in the
// console, once a tab. (The Fleet page's buttons go by the same answer's `may_operate`.)
const readers = new Map();  // token -> may_read_all

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function authHeaders(extra) {
  const headers = { ...(extra || {}) };
  const current = token();
  if (current) headers.Authorization = `Bearer ${current}`;
  return headers;
}

// GET /devices, remembering what it says of the token it was sent with.
export async function getDevices() {
  const sent = token();
  const devices = await getJson("/devices");
  if (sent) readers.set(sent, devices.may_read_all);
  return devices;
}

// Whether this tab's token is known not to read every org's work (nothing asked).
export function knownNotReadingAll() {
  return token() !== null && readers.get(token()) === false;
}

// Whether this tab's token may read every org's work, asking GET /devices (once a token)
// when not known yet. True without a token: none is needed (no tokens configured, or a
// public dashboard), or the server asks for one.
export async function mayReadAll() {
  const current = token();
  if (!current) return true;
  if (!readers.has(current)) await getDevices();
  return readers.get(current) !== false;
}

export async function getJson(path) {
  const response = await fetch(path, { headers: authHeaders({ Accept: "application/json" }) });
  if (response.status === 401) throw new NeedToken(path);
  if (!response.ok) {
    let detail = `HTTP ${response.status}`;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new (response.status === 403 ? Forbidden : Error)(`${path}: ${detail}`);
  }
  return response.json();
}

// What the user asked for (a button): the request, the answer's JSON when it succeeds, and
// null when it did not, after saying why with showActionProblem.
export async function act(what, path, { method = "POST", body } = {}) {
  showActionProblem(null);
  const json = body === undefined ? {} : { "Content-Type": "application/json" };
  let response;
  try {
    response = await fetch(path, { method, body: body === undefined ? undefined : JSON.stringify(body),
      headers: authHeaders({ Accept: "application/json", ...json }) });
  } catch (error) {
    showActionProblem(`Cannot ${what}: ${error.message}`);
    return null;
  }
  const answer = await response.json().catch(() => ({}));
  if (response.ok) return answer;
  showActionProblem(`Cannot ${what}: ${response.status === 401
    ? "this action needs an API token" : answer.detail || `HTTP ${response.status}`}`);
  return null;
}

// A report file, fetched with the token (a plain link could not send it) and saved.
export async function download(path, name) {
  showActionProblem(null);
  const response = await fetch(path, { headers: authHeaders() });
  if (!response.ok) {
    showActionProblem(`Cannot download ${name}: HTTP ${response.status}`);
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const link = h("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// Server-sent events read through fetch, so that the token goes along (EventSource cannot
// send headers). Calls onChange per `change` event; resolves when the stream ends.
export async function readEvents(onOpen, onChange, signal) {
  const response = await fetch("/events", {
    headers: authHeaders({ Accept: "text/event-stream" }), signal });
  if (response.status === 401) throw new NeedToken("/events");
  if (!response.ok || !response.body) throw new Error(`/events: HTTP ${response.status}`);
  onOpen();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (/^event: change$/m.test(message)) onChange();
    }
  }
}

// Why the page cannot be shown; every refresh sets or clears it.
export function showProblem(message) {
  const box = document.getElementById("problem");
  box.hidden = !message;
  box.textContent = message || "";
}

// Why an action the user took was refused. A refresh follows every action and every change,
// so this has a box of its own that only the user clears: Dismiss, another action, or
// another page. Otherwise a refusal (a run that finished meanwhile, writes refused) would
// vanish before anyone could read it.
export function showActionProblem(message) {
  const box = document.getElementById("action-problem");
  box.hidden = !message;
  box.querySelector(".text").textContent = message || "";
}

