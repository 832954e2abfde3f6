// A job's failure evidence (screenshots inline, videos in a player, traces to download with
// the command that opens them) and its Playwright report as a readable per-test view.
import {
  authHeaders, badge, download, duration, getJson, h, jobHref, replace, token,
} from "./dom.js";

const ESCAPES = /\x1b\[[0-9;]*[A-Za-z]/g;  // colour codes in Playwright's messages
const RESULT = { expected: "passed", unexpected: "failed", flaky: "flaky", skipped: "skipped" };

// Image and video files need the token when tokens exist (an <img> cannot send it): then
// they are fetched and shown from a blob; otherwise the element loads the URL itself.
async function mediaSource(url) {
  if (!token()) return url;
  const response = await fetch(url, { headers: authHeaders() });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return URL.createObjectURL(await response.blob());
}

function media(tag, file, attrs) {
  const node = h(tag, { ...attrs, "data-name": file.name });
  mediaSource(file.url).then((src) => { node.src = src; }, () => node.replaceWith(
    h("span", { class: "error" }, `${file.name} could not be loaded`)));
  return node;
}

// The first screenshot a failed job's last attempt kept, small and linking to the job (the
// run page shows it beside the failure). The agent uploads evidence before it reports the
// result, so a failed job's listing is complete: asked once per job.
export function failureShot(jobId) {
  const holder = h("a", { class: "failure-shot", href: jobHref(jobId) });
  getJson(`/jobs/${encodeURIComponent(jobId)}/artifacts`).then((listing) => {
    const last = listing.attempts[listing.attempts.length - 1];
    const shot = last && last.files.find((f) => f.kind === "screenshot");
    if (shot) replace(holder, media("img", shot, { alt: `${shot.name}: the failed test's screen` }));
  }, () => { /* no evidence to show: the row is complete without it */ });
  return holder;
}

function fileView(file) {
  const saveLink = h("a", { href: file.url, download: file.name, onclick: (event) => {
    event.preventDefault();
    download(file.url, file.name);
  } }, file.name);
  if (file.kind === "screenshot") {
    return h("figure", { class: "shot" }, media("img", file, { alt: file.name }),
      h("figcaption", {}, saveLink));
  }
  if (file.kind === "video") {
    return h("figure", { class: "video" },
      media("video", file, { controls: true, preload: "metadata", muted: true }),
      h("figcaption", {}, saveLink));
  }
  if (file.kind === "trace") {
    return h("div", { class: "trace" }, "Trace: ", saveLink, " — open it with ",
      h("code", { class: "command" }, `npx playwright show-trace ${file.name}`));
  }
  return h("div", { class: "attachment" }, "Attachment: ", saveLink);
}

function byTest(files) {
  const groups = new Map();
  for (const file of files) {
    const key = file.test || "";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(file);
  }
  return [...groups];
}

export class EvidencePanel {
  constructor(jobId) {
    this.jobId = jobId;
    this.element = h("div", { class: "panel", id: "job-evidence" });
    this.drawn = null;
  }

  async update() {
    const listing = await getJson(`/jobs/${encodeURIComponent(this.jobId)}/artifacts`);
    const signature = JSON.stringify(listing.attempts);
    if (signature === this.drawn) return;  // redrawing would restart the videos
    this.drawn = signature;
    const attempts = [...listing.attempts].reverse();
    replace(this.element, h("h2", {}, "Failure evidence"), attempts.length
      ? attempts.map((a) => this.attemptView(a))
      : h("div", { class: "empty" }, "No screenshots, videos or traces: they are kept for "
        + "failed tests when the suite records them (Playwright's screenshot, video and "
        + "trace options)."));
  }

  attemptView(attempt) {
    return h("section", { class: "evidence-attempt", "data-attempt": attempt.attempt },
      h("h3", {}, `Attempt ${attempt.attempt}`),
      byTest(attempt.files).map(([test, files]) => h("div", { class: "evidence-test" },
        test ? h("h4", {}, test) : null, h("div", { class: "evidence-files" },
          files.map(fileView)))),
      attempt.dropped.length ? h("div", { class: "dropped" }, h("h4", {}, "Not kept"),
        h("ul", {}, attempt.dropped.map((d) => h("li", {}, h("span", { class: "mono" }, d.name),
          ` (${d.size} bytes): ${d.reason}`)),
          attempt.dropped_more ? h("li", {}, `and ${attempt.dropped_more} more`) : null))
        : null);
  }
}

// ---------------------------------------------------------------------------- report.json

export class ReportPanel {
  constructor(jobId) {
    this.jobId = jobId;
    this.element = h("div", { class: "panel", id: "job-report" });
    this.shown = null;
  }

  // `files`: the job's report files; the last attempt's report.json is shown.
  async update(files) {
    const reports = files.filter((f) => f.name === "report.json");
    const latest = reports[reports.length - 1];
    if (!latest) { replace(this.element); this.shown = null; return; }
    const key = `${latest.attempt}/${latest.size}`;
    if (key === this.shown) return;
    this.shown = key;
    const report = await getJson(
      `/jobs/${encodeURIComponent(this.jobId)}/files/${latest.attempt}/report.json`);
    const tests = [...walk(report.suites || [], [])];
    replace(this.element, h("h2", {}, `Playwright report (attempt ${latest.attempt})`),
      tests.length ? tests.map(testView)
        : h("div", { class: "empty" }, "The report lists no tests."),
      (report.errors || []).map((e) => h("pre", { class: "error report-error" }, plain(e.message))));
  }
}

function* walk(suites, titles) {
  for (const suite of suites) {
    const path = suite.title ? [...titles, suite.title] : titles;
    for (const spec of suite.specs || []) {
      for (const test of spec.tests || []) yield { path: path.slice(1), spec, test };
    }
    yield* walk(suite.suites || [], path);
  }
}

function testView({ path, spec, test }) {
  const results = test.results || [];
  const last = results[results.length - 1] || {};
  const status = last.status === "timedOut" ? "timed-out" : (RESULT[test.status] || "failed");
  const took = results.reduce((sum, r) => sum + (r.duration || 0), 0) / 1000;
  const error = last.error || (last.errors || [])[0];
  return h("details", { class: "report-test", open: status !== "passed" && status !== "skipped",
    "data-status": status },
  h("summary", {}, badge(status), " ", [...path, spec.title].join(" › "),
    h("span", { class: "muted" }, ` ${duration(took)}`, test.projectName ? ` · ${test.projectName}` : "",
      spec.file ? ` · ${spec.file}:${spec.line || ""}` : "")),
  error ? errorView(error) : null,
  last.steps && last.steps.length ? h("div", { class: "steps" }, h("h4", {}, "Steps"),
    stepList(last.steps, 0)) : null);
}

function errorView(error) {
  const where = error.location
    ? `${error.location.file}:${error.location.line}:${error.location.column}` : null;
  return h("div", { class: "report-error" },
    h("pre", { class: "error" }, plain(error.message || error.value || "")),
    where ? h("div", { class: "mono muted location" }, where) : null,
    error.snippet ? h("pre", { class: "snippet" }, plain(error.snippet)) : null);
}

function stepList(steps, depth) {
  return h("ul", { class: "step-list" }, steps.slice(0, 200).map((step) => h("li", {
    class: step.error ? "error" : null },
  step.title, h("span", { class: "muted" }, ` ${duration((step.duration || 0) / 1000)}`),
  depth < 4 && step.steps && step.steps.length ? stepList(step.steps, depth + 1) : null)));
}

function plain(text) {
  return String(text || "").replace(ESCAPES, "");
}
