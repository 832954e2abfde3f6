// Runs: the list (newest first, a page at a time) and one run's page with its tests,
// failures first, and the actions this token may take (cancel, re-run failed).
import {
  act, badge, clock, duration, filtersToHash, getJson, h, jobLink, replace, table,
} from "./dom.js";
import { failureShot } from "./evidence.js";

const RUN_STATUSES = ["queued", "running", "passed", "failed", "cancelled"];
const PAGE = 50;

export const runs = {
  mount(main, { params }) {
    this.params = params;
    this.list = h("div", { class: "panel", id: "run-list" });
    replace(main, h("h1", {}, "Runs"), this.filters(params), this.list);
  },

  filters(params) {
    const status = h("select", { name: "status" }, h("option", { value: "" }, "any"),
      RUN_STATUSES.map((s) => h("option", { value: s, selected: params.get("status") === s }, s)));
    const build = h("input", { name: "app_version_id", placeholder: "a build id",
      value: params.get("app_version_id") || "", autocomplete: "off" });
    const form = h("form", { class: "filters", id: "run-filters" },
      h("label", {}, "Status", status), h("label", {}, "App build", build),
      h("button", { type: "submit" }, "Filter"));
    return filtersToHash(form, "/runs");
  },

  async refresh() {
    const query = new URLSearchParams(this.params);
    query.set("limit", String(PAGE));
    const found = await getJson(`/runs?${query}`);
    const rows = found.runs.map((run) => h("tr", {
      class: "link", "data-run-id": run.run_id,
      onclick: () => { location.hash = runHash(run.run_id); } },
      h("td", {}, h("a", { href: runHash(run.run_id) }, run.name)),
      h("td", { class: "status" }, badge(run.status)),
      h("td", {}, counts(run.counts)), h("td", { class: "mono" }, run.app_version_id),
      h("td", {}, run.targets.join(", ") || "-"), h("td", {}, attempt(run)),
      h("td", {}, duration(run.duration_seconds)), h("td", {}, clock(run.created_at))));
    replace(this.list, h("h2", {}, this.params.get("cursor") ? "Older runs" : "Runs, newest first"),
      table(["Run", "Status", "Tests", "App", "Targets", "Attempt", "Took", "Created"], rows,
        "No run matches. `qgjob run` makes one per suite."),
      found.next_cursor ? h("a", { id: "run-older", href: pageHash(this.params, found.next_cursor) },
        "Older runs →") : null);
  },
};

export const runPage = {
  mount(main, { runId, again }) {
    this.runId = runId;
    this.again = again;
    this.title = h("h1", {}, "Run ", h("span", { class: "mono" }, runId));
    this.actions = h("div", { class: "run-actions", id: "run-actions" });
    this.fields = h("div", { class: "panel", id: "run-fields" });
    this.tests = h("div", { class: "panel", id: "run-tests" });
    this.shots = new Map();  // job id -> its failure screenshot, kept across refreshes
    replace(main, this.title, this.actions, this.fields, this.tests);
  },

  async refresh() {
    const run = await getJson(`/runs/${encodeURIComponent(this.runId)}`);
    replace(this.title, `${run.name} `, badge(run.status));
    this.drawActions(run);
    this.drawFields(run);
    this.drawTests(run.tests);
  },

  drawActions(run) {
    const buttons = [];
    if (run.actions.includes("rerun-failed")) {
      buttons.push(h("button", { type: "button", id: "run-rerun", onclick: (event) =>
        this.act(event, "rerun-failed", (again) => { location.hash = runHash(again.run_id); }) },
      `Re-run ${run.counts.failed} failed`));
    }
    if (run.actions.includes("cancel")) {
      buttons.push(h("button", { type: "button", id: "run-cancel", onclick: (event) =>
        this.act(event, "cancel", () => this.again()) }, "Cancel run"));
    }
    replace(this.actions, buttons);
  },

  async act(event, action, then) {
    event.currentTarget.disabled = true;
    const done = await act(action.replace("-", " "),
      `/runs/${encodeURIComponent(this.runId)}/${action}`);
    if (done) then(done); else this.again();
  },

  drawFields(run) {
    const source = run.source || {};
    const rows = [
      ["Run id", h("span", { class: "mono" }, run.run_id)], ["Status", badge(run.status)],
      ["Tests", counts(run.counts)], ["Org", run.org_id],
      ["App build", h("span", { class: "mono" }, run.app_version_id)],
      ["Targets", run.targets.join(", ") || "-"], ["Attempt", attempt(run)],
      ["Created", clock(run.created_at)], ["Finished", clock(run.finished_at)],
      ["Took", duration(run.duration_seconds)],
    ];
    // A cancel is the run's own record: its status, read from its jobs, may still say
    // running (a job asked to stop has yet to report), failed, or cancelled.
    if (run.cancelled_at) {
      rows.splice(2, 0, ["Cancelled", h("span", { id: "run-cancelled" },
        `cancelled at ${clock(run.cancelled_at)}: it takes no new jobs`)]);
    }
    if (source.commit_sha) rows.push(["Commit", h("span", { class: "mono" }, source.commit_sha.slice(0, 12))]);
    if (source.branch) rows.push(["Branch", source.branch]);
    if (source.pull_request) rows.push(["Pull request", `#${source.pull_request}`]);
    if (source.url) rows.push(["CI run", h("a", { href: source.url, rel: "noopener noreferrer" }, source.url)]);
    replace(this.fields, h("dl", { class: "fields" },
      rows.map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)])));
  },

  drawTests(tests) {
    const rows = tests.map((t) => h("tr", { "data-result": t.result },
      h("td", {}, badge(t.result)), h("td", { class: "mono" }, t.test_path),
      h("td", {}, t.title || "(the whole file)"), h("td", {}, t.target),
      h("td", {}, duration(t.duration_seconds)),
      h("td", { class: "error" }, (t.error || "").trim().split("\n")[0],
        t.result === "failed" && t.job_id ? this.shotOf(t.job_id) : null),
      h("td", {}, jobLink(t.job_id))));
    replace(this.tests, h("h2", {}, "Tests, failures first"),
      table(["Result", "File", "Test", "Target", "Took", "Error", "Job"], rows, "No tests yet."));
  },

  shotOf(jobId) {
    if (!this.shots.has(jobId)) this.shots.set(jobId, failureShot(jobId));
    return this.shots.get(jobId);
  },
};

function runHash(runId) {
  return `#/runs/${encodeURIComponent(runId)}`;
}

function pageHash(params, cursor) {
  const query = new URLSearchParams(params);
  query.set("cursor", cursor);
  return `#/runs?${query}`;
}

function counts(c) {
  const parts = ["failed", "flaky", "cancelled", "running", "queued", "passed"]
    .filter((k) => c[k]).map((k) => `${c[k]} ${k}`);
  return parts.join(", ") || "no tests";
}

function attempt(run) {
  if (!run.rerun_of) return "1";
  return h("span", {}, `${run.attempt}, re-runs `, h("a", { class: "mono", href: runHash(run.rerun_of) },
    run.rerun_of));
}
