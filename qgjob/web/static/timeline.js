// The device timeline: a Gantt chart in SVG, one row per device, installs hatched grey,
// tests coloured by build, failed attempts outlined red, running ones dashed.
import {
  Forbidden, duration, getJson, h, jobHref, knownNotReadingAll, mayReadAll, replace, s, token,
} from "./dom.js";

const WINDOWS = [[300, "5 min"], [900, "15 min"], [3600, "1 hour"], [21600, "6 hours"],
  [86400, "24 hours"]];
const ROW = 26;
const LABEL = 190;
const AXIS = 24;

export const timeline = {
  seconds: 3600,
  // GET /timeline shows every org's work, so only an admin's token may read it, or any on
  // a public dashboard. A token GET /devices says may not (`may_read_all`: a submitter's
  // off a public dashboard) is not sent to it (a 403 once a tab); one it refused all the
  // same (403) is remembered. Either way the page says so and asks no more, and the nav
  // hides the page, until the token changes.
  refusedFor: null,

  refused() {
    return knownNotReadingAll() || (this.refusedFor !== null && this.refusedFor === token());
  },

  mount(main, { params, again }) {
    const asked = Number(params.get("window"));
    if (WINDOWS.some(([seconds]) => seconds === asked)) this.seconds = asked;
    this.again = again;
    this.body = h("div", { id: "timeline-body" });
    replace(main, h("h1", {}, "Device timeline"), this.body);
    if (this.refused()) this.drawRefusal(); else this.drawControls();
  },

  drawControls() {
    const picker = h("select", { id: "window", onchange: (e) => {
      this.seconds = Number(e.target.value); this.again(); } },
      WINDOWS.map(([seconds, label]) =>
        h("option", { value: seconds, selected: seconds === this.seconds }, label)));
    this.legend = h("div", { class: "legend" });
    this.chart = h("div", { class: "panel", id: "gantt" });
    replace(this.body,
      h("div", { class: "controls" }, h("label", {}, "Window ", picker), this.legend),
      this.chart);
  },

  async refresh() {
    if (this.refused()) return;
    const asking = token();
    if (!(await mayReadAll())) {
      if (token() === asking) this.drawRefusal();
      return;
    }
    if (!this.body.contains(this.chart)) this.drawControls();  // another token now
    let data, agents;
    try {
      [data, agents] = await Promise.all([
        getJson(`/timeline?since=${this.seconds}`), getJson("/agents")]);
    } catch (error) {
      if (!(error instanceof Forbidden)) throw error;
      this.refusedFor = token();
      this.drawRefusal();
      return;
    }
    const rows = new Map();
    for (const agent of agents.agents) {
      for (const device of agent.devices) rows.set(device.device_id, []);
    }
    for (const device of data.devices) rows.set(device.device_id, device.bars);
    const devices = [...rows.keys()].sort();
    assignColours(data.devices.flatMap((d) => d.bars.filter((b) => b.kind === "test")
      .map((b) => buildKey(b.app_version_id, b.target))));
    this.drawLegend(data.devices, data.truncated);
    replace(this.chart, devices.length
      ? gantt(devices, rows, firstActivity(data), Date.parse(data.until), this.chart)
      : h("div", { class: "empty" }, "No device has reported yet."));
  },

  drawRefusal() {
    const why = h("div", { class: "empty", id: "timeline-refused" },
      "The timeline shows every org's devices and tests, so it needs an admin token; this " +
      "token may not read it. Your org's work is on the ", h("a", { href: "#/runs" }, "Runs"),
      " and ", h("a", { href: "#/jobs" }, "Jobs"), " pages, and the devices on ",
      h("a", { href: "#/fleet" }, "Fleet"), ".");
    replace(this.body, h("div", { class: "panel" }, why));
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
  const step = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800]
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
  const rect = s("rect", { ...attrs, class: "test", fill: buildColour(bar.app_version_id, bar.target),
    stroke: failed ? "#c53030" : running ? "#0b7fab" : "#ffffff",
    "stroke-width": failed || running ? 2 : 0.6, "stroke-dasharray": running ? "4 2" : null,
    "data-job-id": bar.job_id,
    onclick: () => { location.hash = jobHref(bar.job_id); } },
  s("title", {}, `${bar.test_path} on ${bar.app_version_id} (${bar.org_id}), attempt ${
    bar.attempt}: ${bar.outcome || "running"}, ${ran}`));
  return s("g", { class: running ? "bar running" : "bar" }, rect,
    barLabel(bar, running, ran, attrs));
}

// The test's name on its bar (clipped to it); a running test also says its build and how
// long it has run, beside its bar when the bar is too narrow to hold that.
function barLabel(bar, running, ran, box) {
  const name = bar.test_path.split("/").pop();
  const middle = box.y + box.height / 2 + 4;
  if (!running) {
    if (box.width < 40) return null;
    return s("svg", { class: "bar-label", x: box.x, y: box.y, width: box.width,
      height: box.height }, s("text", { x: 4, y: box.height / 2 + 4 }, name));
  }
  const text = `${name} · ${bar.app_version_id} · ${ran}`;
  if (box.width >= text.length * 7 + 8) {
    return s("text", { class: "bar-label running-label", x: box.x + 4, y: middle }, text);
  }
  // On a white plate over the bars before it (about 6.5 px a character).
  const room = Math.ceil(text.length * 6.5);
  const end = Math.max(box.x - 3, LABEL + room + 4);
  return s("g", { class: "bar-label outside" },
    s("rect", { x: end - room - 4, y: box.y, width: room + 6, height: box.height, rx: 3,
      fill: "#ffffff", "fill-opacity": 0.92, stroke: "#0b7fab", "stroke-width": 0.6 }),
    s("text", { class: "running-label", x: end, y: middle, "text-anchor": "end" }, text));
}


// Builds in view get distinct colours from one palette (none of them red, so a failed
// attempt's red outline shows on every bar). A build keeps its colour while it stays in view:
// it first asks for the slot its name hashes to (FNV-1a), then the next free one.
const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f",
  "#a0cbe8", "#8cd17d", "#499894", "#d4a6c8", "#bab0ac"];
const slots = new Map();  // build key -> palette index

function buildKey(app, target) {
  return `${app}|${target}`;
}

function assignColours(keys) {
  const inView = new Set(keys);
  for (const key of [...slots.keys()]) if (!inView.has(key)) slots.delete(key);
  const taken = new Set(slots.values());
  for (const key of [...inView].sort()) {
    if (slots.has(key) || taken.size >= PALETTE.length) continue;
    let slot = fnv1a(key) % PALETTE.length;
    while (taken.has(slot)) slot = (slot + 1) % PALETTE.length;
    slots.set(key, slot);
    taken.add(slot);
  }
}

function fnv1a(text) {
  let hash = 0x811c9dc5;
  for (const char of text) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193);
  return hash >>> 0;
}

// More builds in view than colours: the rest get a hashed hue kept away from red.
function buildColour(app, target) {
  const key = buildKey(app, target);
  if (slots.has(key)) return PALETTE[slots.get(key)];
  const hash = fnv1a(key);
  return `hsl(${40 + (hash % 260)}, 45%, ${[45, 60][(hash >>> 12) % 2]}%)`;
}
