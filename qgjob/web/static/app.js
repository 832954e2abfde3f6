// qgjob dashboard. Plain JavaScript, no build step, nothing loaded from elsewhere.
// Every piece of data goes into the page as text nodes or attributes, never as HTML.
"use strict";

const STATUSES = ["queued", "running", "completed", "failed", "cancelled"];
const TARGETS = ["emulator", "device", "browserstack"];
const POLL_MS = 2000;
const SVG_NS = "http://www.w3.org/2000/svg";

// ---------------------------------------------------------------------------- building DOM

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attrs);
  append(node, children);
  return node;
}

function s(tag, attrs, ...children) {
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

function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
}

function badge(status) {
  return h("span", { class: `badge ${status || ""}`, "data-status": status || "" },
    status || "running");
}

function table(headers, rows, empty) {
  if (!rows.length) return h("div", { class: "empty" }, empty);
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((title) =>
      h("th", { class: title.startsWith("#") || title === "Queued" ? "num" : null }, title)))),
    h("tbody", {}, rows));
}

function jobLink(jobId) {
  return jobId ? h("a", { class: "mono", href: `#/jobs/${encodeURIComponent(jobId)}` }, jobId)
    : "-";
}

// ---------------------------------------------------------------------------- formatting

function clock(iso) {
  if (!iso) return "-";
  return new Date(iso).toLocaleTimeString([], { hour12: false });
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function hue(text) {
  let hash = 0;
  for (const char of text) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % 360;
}

function buildColour(app, target) {
  return `hsl(${hue(`${app}|${target}`)}, 58%, 56%)`;
}

// ---------------------------------------------------------------------------- talking to the API

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    let detail = `HTTP ${response.status}`;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new Error(`${path}: ${detail}`);
  }
  return response.json();
}

async function getLogs(jobId, attempt) {
  const query = attempt ? `?attempt=${encodeURIComponent(attempt)}` : "";
  const response = await fetch(`/jobs/${encodeURIComponent(jobId)}/logs${query}`);
  if (!response.ok) return "";
  return response.text();
}

function showProblem(message) {
  const box = document.getElementById("problem");
  box.hidden = !message;
  box.textContent = message || "";
}

// ---------------------------------------------------------------------------- overview

const overview = {
  mount(main) {
    this.cards = h("div", { class: "cards" });
    this.depth = h("div", { class: "grid" });
    this.lanes = h("div", { class: "panel", id: "waiting" });
    this.groups = h("div", { class: "panel", id: "groups" });
    this.fleet = h("div", { class: "panel", id: "fleet" });
    replace(main, h("h1", {}, "Overview"), this.cards, this.depth, this.lanes, this.groups,
      this.fleet);
  },

  async refresh() {
    const [queue, groups, agents] = await Promise.all([
      getJson("/queue"), getJson("/groups"), getJson("/agents")]);
    this.drawCards(queue, agents.agents);
    this.drawDepth(queue);
    this.drawLanes(queue.lanes);
    this.drawGroups(groups.groups);
    this.drawFleet(agents.agents);
  },

  drawCards(queue, agents) {
    const devices = agents.flatMap((a) => a.devices);
    const busy = devices.filter((d) => d.state === "running" || d.state === "installing");
    const card = (number, label) => h("div", { class: "card" },
      h("div", { class: "number" }, number), h("div", { class: "label" }, label));
    replace(this.cards,
      card(queue.queued, "jobs queued"), card(queue.running, "jobs running"),
      card(agents.filter((a) => a.state === "online").length, "agents online"),
      card(`${busy.length}/${devices.length}`, "devices busy"));
  },

  drawDepth(queue) {
    const priorities = {};
    for (let p = 5; p >= 1; p -= 1) priorities[`P${p}`] = queue.by_priority[String(p)] || 0;
    const targets = {};
    for (const t of TARGETS) targets[t] = queue.by_target[t] || 0;
    replace(this.depth,
      depthPanel("Queued by priority", priorities),
      depthPanel("Queued by target", targets),
      depthPanel("Queued by org", queue.by_org));
  },

  drawLanes(lanes) {
    const rows = lanes.map((lane) => h("tr", {},
      h("td", {}, lane.target), h("td", { class: "num" }, lane.position ?? "-"),
      h("td", { class: "mono" }, lane.app_version_id), h("td", {}, lane.org_id),
      h("td", { class: "num" }, lane.queued), h("td", {}, `P${lane.top_priority}`),
      h("td", {}, lane.estimated_start_at ? clock(lane.estimated_start_at) : "-"),
      h("td", {}, lane.reason)));
    replace(this.lanes, h("h2", {}, "Waiting builds, in the order devices take them"),
      table(["Target", "#", "App", "Org", "Queued", "Priority", "Start ~", "Why it waits"],
        rows, "Nothing waits."));
  },

  drawGroups(groups) {
    const rows = groups.map((group) => {
      const query = new URLSearchParams({
        app_version_id: group.app_version_id, target: group.target });
      const counts = Object.entries(group.counts).filter(([, n]) => n)
        .map(([status, n]) => h("span", { class: "chip" }, `${n} ${status}`));
      return h("tr", {},
        h("td", { class: "mono" }, group.app_version_id), h("td", {}, group.target),
        h("td", {}, group.org_id || "(all orgs)"), h("td", {}, counts),
        h("td", {}, h("a", { href: `#/jobs?${query}` }, `${group.job_ids.length} jobs`)));
    });
    replace(this.groups, h("h2", {}, "Groups (app build × target)"),
      table(["App", "Target", "Org", "Jobs", ""], rows, "No group has queued or running jobs."));
  },

  drawFleet(agents) {
    const rows = agents.flatMap((agent) => agent.devices.map((device) => h("tr", {},
      h("td", {}, agent.name), h("td", {}, badge(agent.state)), h("td", {}, device.name),
      h("td", {}, device.target), h("td", {}, badge(device.state)),
      h("td", { class: "mono" }, device.holds_app_version_id || "-"),
      h("td", {}, jobLink(device.current_job_id)), h("td", {}, clock(device.last_seen_at)))));
    replace(this.fleet, h("h2", {}, "Agents and devices"),
      table(["Agent", "Agent state", "Device", "Target", "State", "Holds build", "Running job",
        "Seen"], rows, "No agent is registered. Start one with `qgjob agent --devices …`."));
  },
};

function depthPanel(title, counts) {
  const entries = Object.entries(counts);
  const most = Math.max(1, ...entries.map(([, n]) => n));
  const rows = entries.map(([label, n]) => h("div", { class: "bar-row" },
    h("span", {}, label),
    h("div", { class: "bar-track" },
      h("div", { class: "bar-fill", style: `width: ${(100 * n) / most}%` })),
    h("span", { class: "num" }, n)));
  return h("div", { class: "panel" }, h("h2", {}, title),
    rows.length ? rows : h("div", { class: "empty" }, "Nothing queued."));
}

// ---------------------------------------------------------------------------- jobs

const jobs = {
  mount(main, params) {
    this.params = params;
    this.list = h("div", { class: "panel", id: "job-list" });
    replace(main, h("h1", {}, "Jobs"), this.filters(params), this.list);
  },

  filters(params) {
    const field = (label, control) => h("label", {}, label, control);
    const select = (name, options) => h("select", { name },
      h("option", { value: "" }, "any"),
      options.map((o) => h("option", { value: o, selected: params.get(name) === o }, o)));
    const input = (name, placeholder) => h("input", {
      name, placeholder, value: params.get(name) || "", autocomplete: "off" });
    const form = h("form", { class: "filters", id: "job-filters" },
      field("Status", select("status", STATUSES)), field("Org", input("org_id", "any org")),
      field("Target", select("target", TARGETS)),
      field("App build", input("app_version_id", "any build")),
      h("button", { type: "submit" }, "Filter"));
    const apply = (event) => {
      event.preventDefault();
      const query = new URLSearchParams();
      for (const [name, value] of new FormData(form)) if (value) query.set(name, value);
      location.hash = `#/jobs${query.toString() ? `?${query}` : ""}`;
    };
    form.addEventListener("submit", apply);
    form.addEventListener("change", (event) => { if (event.target.tagName === "SELECT") apply(event); });
    return form;
  },

  async refresh() {
    const query = new URLSearchParams(this.params);
    query.set("limit", "200");
    const found = await getJson(`/jobs?${query}`);
    const rows = found.jobs.map((job) => h("tr", {
      class: "link", "data-job-id": job.job_id,
      onclick: () => { location.hash = `#/jobs/${encodeURIComponent(job.job_id)}`; } },
      h("td", {}, jobLink(job.job_id)),
      h("td", { class: "status" }, badge(job.status), job.flaky ? " flaky" : ""),
      h("td", {}, job.org_id), h("td", { class: "mono" }, job.app_version_id),
      h("td", {}, job.target), h("td", {}, `P${job.priority}`),
      h("td", { class: "mono" }, job.test_path),
      h("td", {}, `${job.attempts}/${job.max_attempts}`), h("td", {}, job.device || "-"),
      h("td", {}, clock(job.created_at)), h("td", { class: "error" }, job.error || "")));
    replace(this.list, h("h2", {}, `${found.count} job(s), newest first`),
      table(["Job", "Status", "Org", "App", "Target", "Priority", "Test", "Tries", "Device",
        "Submitted", "Error"], rows, "No job matches."));
  },
};

// ---------------------------------------------------------------------------- one job

const jobPage = {
  mount(main, jobId) {
    this.jobId = jobId;
    this.attempt = null;
    this.title = h("h1", {}, "Job ", h("span", { class: "mono" }, jobId));
    this.fields = h("div", { class: "panel", id: "job-fields" });
    this.attempts = h("div", { class: "panel", id: "job-attempts" });
    this.tests = h("div", { class: "panel", id: "job-tests" });
    this.picker = h("div", { class: "attempt-picker" });
    this.logs = h("div", { id: "job-logs-body" });
    const logs = h("section", { class: "panel", id: "job-logs" },
      h("h2", {}, "Logs"), this.picker, this.logs);
    replace(main, this.title, this.fields, this.attempts, this.tests, logs);
  },

  async refresh() {
    const id = encodeURIComponent(this.jobId);
    const [job, attempts] = await Promise.all([
      getJson(`/jobs/${id}`), getJson(`/jobs/${id}/attempts`)]);
    replace(this.title, `${job.test_path} `, badge(job.status));
    this.drawFields(job);
    this.drawAttempts(attempts.attempts);
    this.drawTests(job.tests);
    this.drawPicker(attempts.attempts);
    const text = await getLogs(this.jobId, this.attempt);
    replace(this.logs, text.trim()
      ? h("pre", { class: "logs", id: "job-logs-text" }, text)
      : h("div", { class: "empty", id: "job-logs-none" }, "no output recorded"));
  },

  drawFields(job) {
    const rows = [
      ["Job id", h("span", { class: "mono" }, job.job_id)], ["Status", badge(job.status)],
      ["Org", job.org_id], ["App build", h("span", { class: "mono" }, job.app_version_id)],
      ["Target", job.target], ["Priority", `P${job.priority}`],
      ["Tries", `${job.attempts} of ${job.max_attempts}${job.flaky ? " (flaky)" : ""}`],
      ["Device", job.device || "-"], ["Submitted", clock(job.created_at)],
      ["Started", clock(job.started_at)], ["Finished", clock(job.finished_at)],
      ["Error", h("span", { class: "error" }, job.error || "-")],
    ];
    if (job.cancel_requested) rows.push(["Cancel", "requested"]);
    replace(this.fields, h("dl", { class: "fields" },
      rows.map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)])));
  },

  drawAttempts(attempts) {
    const rows = attempts.map((a) => h("tr", {},
      h("td", { class: "num" }, a.attempt), h("td", {}, a.device),
      h("td", {}, clock(a.started_at)), h("td", {}, duration(a.seconds)),
      h("td", {}, badge(a.outcome || "running")), h("td", { class: "error" }, a.error || "")));
    replace(this.attempts, h("h2", {}, "Attempts"),
      table(["#", "Device", "Started", "Ran", "Outcome", "Error"], rows, "Not started yet."));
  },

  drawTests(tests) {
    if (!Array.isArray(tests)) {
      replace(this.tests, h("h2", {}, "Tests"), h("div", { class: "empty" },
        "Per-test results show here when the executor reports them."));
      return;
    }
    const rows = tests.map((t) => h("tr", {},
      h("td", {}, t.title || t.name || "-"), h("td", {}, badge(t.status || t.outcome)),
      h("td", {}, duration(t.seconds ?? (t.duration_ms ? t.duration_ms / 1000 : null))),
      h("td", { class: "error" }, t.error || "")));
    replace(this.tests, h("h2", {}, "Tests"),
      table(["Test", "Result", "Took", "Error"], rows, "No test results."));
  },

  drawPicker(attempts) {
    const choices = [[null, "latest"], ...attempts.map((a) => [a.attempt, `attempt ${a.attempt}`])];
    replace(this.picker, attempts.length < 2 ? [] : choices.map(([attempt, label]) =>
      h("button", {
        type: "button", class: attempt === this.attempt ? "selected" : null,
        onclick: () => { this.attempt = attempt; live.refreshNow(); } }, label)));
  },
};

// ---------------------------------------------------------------------------- timeline

const WINDOWS = [[300, "5 min"], [900, "15 min"], [3600, "1 hour"], [21600, "6 hours"],
  [86400, "24 hours"]];
const ROW = 26;
const LABEL = 190;
const AXIS = 24;

const timeline = {
  seconds: 3600,

  mount(main, params) {
    const asked = Number(params.get("window"));
    if (WINDOWS.some(([seconds]) => seconds === asked)) this.seconds = asked;
    const picker = h("select", { id: "window", onchange: (e) => {
      this.seconds = Number(e.target.value); live.refreshNow(); } },
      WINDOWS.map(([seconds, label]) =>
        h("option", { value: seconds, selected: seconds === this.seconds }, label)));
    this.legend = h("div", { class: "legend" });
    this.chart = h("div", { class: "panel", id: "gantt" });
    replace(main, h("h1", {}, "Device timeline"),
      h("div", { class: "controls" }, h("label", {}, "Window ", picker), this.legend),
      this.chart);
  },

  async refresh() {
    const [data, agents] = await Promise.all([
      getJson(`/timeline?since=${this.seconds}`), getJson("/agents")]);
    const rows = new Map();
    for (const agent of agents.agents) {
      for (const device of agent.devices) rows.set(device.device_id, []);
    }
    for (const device of data.devices) rows.set(device.device_id, device.bars);
    const devices = [...rows.keys()].sort();
    this.drawLegend(data.devices, data.truncated);
    replace(this.chart, devices.length
      ? gantt(devices, rows, firstActivity(data), Date.parse(data.until), this.chart)
      : h("div", { class: "empty" }, "No device has reported yet."));
  },

  drawLegend(devices, truncated) {
    const builds = new Map();
    for (const device of devices) {
      for (const bar of device.bars) {
        if (bar.kind === "test") builds.set(`${bar.app_version_id} · ${bar.target}`, bar);
      }
    }
    const swatch = (cls, style) => h("span", { class: `swatch ${cls}`, style });
    replace(this.legend,
      h("span", {}, swatch("install"), "app install"),
      h("span", {}, swatch("failed"), "failed attempt"),
      h("span", {}, swatch("running"), "running now"),
      [...builds].sort().map(([label, bar]) => h("span", {},
        swatch("", `background: ${buildColour(bar.app_version_id, bar.target)}`), label)),
      truncated ? h("span", {}, "(busy window: the newest bars are shown)") : null);
  },
};

// The chart starts where the window's activity starts: a server that has run for two
// minutes shows those two minutes across the whole width, not squeezed to the right.
function firstActivity(data) {
  const since = Date.parse(data.since);
  const until = Date.parse(data.until);
  const starts = data.devices.flatMap((d) => d.bars.map((b) => Date.parse(b.started_at)));
  if (!starts.length) return since;
  const first = Math.min(...starts);
  return Math.max(since, first - 0.03 * (until - first));
}

function gantt(devices, rows, since, until, container) {
  const width = Math.max(600, container.clientWidth - 30);
  const height = AXIS + devices.length * ROW + 8;
  const x = (ms) => LABEL + ((ms - since) / (until - since)) * (width - LABEL - 10);
  const svg = s("svg", { class: "gantt", viewBox: `0 0 ${width} ${height}`, height,
    role: "img", "aria-label": "what each device did over time" },
  s("defs", {}, s("pattern", { id: "hatch", width: 6, height: 6,
    patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
  s("rect", { width: 6, height: 6, fill: "#d0d0d0" }),
  s("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#8a8a8a", "stroke-width": 1.5 }))));
  svg.append(...axis(since, until, x, height));
  devices.forEach((device, index) => {
    const y = AXIS + index * ROW;
    svg.append(s("text", { x: 4, y: y + ROW / 2 + 4 }, device));
    for (const bar of rows.get(device)) svg.append(ganttBar(bar, y, x, since, until));
  });
  return svg;
}

function axis(since, until, x, height) {
  const span = (until - since) / 1000;
  const step = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800]
    .find((seconds) => span / seconds <= 10) || 21600;
  const withSeconds = step < 60;
  const parts = [];
  for (let t = Math.ceil(since / 1000 / step) * step; t * 1000 <= until; t += step) {
    const at = x(t * 1000);
    parts.push(s("line", { class: "tick", x1: at, x2: at, y1: AXIS - 6, y2: height }));
    if (at > x(until) - 50) continue;  // no room for a label beside "now"
    parts.push(s("text", { class: "tick-label", x: at + 3, y: AXIS - 10 },
      new Date(t * 1000).toLocaleTimeString([], { hour12: false, hour: "2-digit",
        minute: "2-digit", second: withSeconds ? "2-digit" : undefined })));
  }
  parts.push(s("line", { class: "now", x1: x(until), x2: x(until), y1: AXIS - 6, y2: height }));
  return parts;
}

function ganttBar(bar, y, x, since, until) {
  const start = Math.max(since, Date.parse(bar.started_at));
  const end = bar.finished_at ? Math.min(until, Date.parse(bar.finished_at)) : until;
  const left = x(start);
  const attrs = { x: left, y: y + 4, width: Math.max(1.5, x(end) - left), height: ROW - 8,
    rx: 2 };
  const ran = duration((Date.parse(bar.finished_at || new Date(until).toISOString())
    - Date.parse(bar.started_at)) / 1000);
  if (bar.kind === "install") {
    return s("rect", { ...attrs, class: "install", fill: "url(#hatch)",
      stroke: bar.ok ? "#8a8a8a" : "#c53030", "stroke-width": bar.ok ? 0.5 : 1.5 },
    s("title", {}, `install ${bar.app_version_id} (${bar.target}), ${ran}${
      bar.ok ? "" : ", failed"}`));
  }
  const failed = bar.outcome && bar.outcome !== "passed";
  const running = !bar.finished_at;
  return s("rect", { ...attrs, class: "test", fill: buildColour(bar.app_version_id, bar.target),
    stroke: failed ? "#c53030" : running ? "#0b7fab" : "#ffffff",
    "stroke-width": failed || running ? 2 : 0.6, "stroke-dasharray": running ? "4 2" : null,
    "data-job-id": bar.job_id,
    onclick: () => { location.hash = `#/jobs/${encodeURIComponent(bar.job_id)}`; } },
  s("title", {}, `${bar.test_path} on ${bar.app_version_id} (${bar.org_id}), attempt ${
    bar.attempt}: ${bar.outcome || "running"}, ${ran}`));
}

// ---------------------------------------------------------------------------- routing and live updates

function route() {
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  const main = document.getElementById("main");
  let view = overview;
  let name = "overview";
  const jobMatch = /^\/jobs\/(.+)$/.exec(path || "");
  if (jobMatch) {
    view = jobPage; name = "jobs";
    view.mount(main, decodeURIComponent(jobMatch[1]));
  } else if (path === "/jobs") {
    view = jobs; name = "jobs";
    view.mount(main, params);
  } else if (path === "/timeline") {
    view = timeline; name = "timeline";
    view.mount(main, params);
  } else {
    view.mount(main);
  }
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.view === name);
  }
  live.show(view);
}

const live = {
  view: null,
  busy: false,
  again: false,
  poller: null,

  show(view) {
    this.view = view;
    this.refreshNow();
  },

  // One refresh at a time; changes that arrive meanwhile cause one more.
  async refreshNow() {
    if (this.busy) { this.again = true; return; }
    this.busy = true;
    const view = this.view;
    try {
      await view.refresh();
      showProblem(null);
    } catch (error) {
      showProblem(`Cannot load this page: ${error.message}`);
    } finally {
      this.busy = false;
      if (this.again) { this.again = false; this.refreshNow(); }
    }
  },

  connect() {
    const indicator = document.getElementById("live");
    if (!window.EventSource) { this.poll(indicator); return; }
    const events = new EventSource("/events");
    events.addEventListener("change", () => this.refreshNow());
    events.onopen = () => {
      clearInterval(this.poller); this.poller = null;
      indicator.textContent = "live"; indicator.className = "live on";
    };
    // The browser reconnects by itself; poll meanwhile so the page stays current.
    events.onerror = () => this.poll(indicator);
  },

  poll(indicator) {
    indicator.textContent = "polling"; indicator.className = "live";
    if (!this.poller) this.poller = setInterval(() => this.refreshNow(), POLL_MS);
  },
};

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => { route(); live.connect(); });
