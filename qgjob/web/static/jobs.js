// The job list with its filters, and one job's page: fields, attempts, tests, evidence, report,
// files and logs.
import {
  STATUSES, TARGETS, badge, clock, download, duration, filtersToHash, getJson, h, jobLink, replace,
  table,
} from "./dom.js";
import { EvidencePanel, ReportPanel } from "./evidence.js";
import { LogBox } from "./logbox.js";

const PAGE = 200;
const MOST = 1000;  // the most GET /jobs answers with at once

export const jobs = {
  opened: new Set(),  // jobs whose error the user expanded: kept open across refreshes

  mount(main, { params, again }) {
    this.params = params;
    this.again = again;
    this.limit = PAGE;
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
      field("App build", input("app_version_id_contains", "part of a build")),
      h("button", { type: "submit" }, "Filter"));
    return filtersToHash(form, "/jobs");
  },

  async refresh() {
    const query = new URLSearchParams(this.params);
    query.set("limit", String(Math.min(this.limit + 1, MOST)));
    const found = await getJson(`/jobs?${query}`);
    const more = found.jobs.length > this.limit;
    const shown = found.jobs.slice(0, this.limit);
    const rows = shown.map((job) => h("tr", {
      class: "link", "data-job-id": job.job_id,
      onclick: () => { location.hash = `#/jobs/${encodeURIComponent(job.job_id)}`; } },
      h("td", {}, jobLink(job.job_id)),
      h("td", { class: "status" }, badge(job.status), job.flaky ? " flaky" : ""),
      h("td", {}, job.org_id), h("td", { class: "mono" }, job.app_version_id),
      h("td", {}, job.target), h("td", {}, `P${job.priority}`),
      h("td", { class: "mono" }, job.test_path),
      h("td", {}, tries(job, "/")), h("td", {}, job.device || "-"),
      h("td", {}, clock(job.created_at)),
      h("td", { class: "error" }, errorLine(job.job_id, job.error, this.opened))));
    replace(this.list, h("h2", { id: "job-count" }, more
      ? `The newest ${shown.length} jobs; older ones match too`
      : `${shown.length} job(s), newest first`),
    table(["Job", "Status", "Org", "App", "Target", "Priority", "Test", "Tries", "Device",
      "Submitted", "Error"], rows, "No job matches."),
    more ? this.moreButton() : null);
  },

  moreButton() {
    if (this.limit >= MOST - 1) {
      return h("p", { class: "muted", id: "job-more" },
        `The list stops at ${this.limit}: narrow the filters to see older jobs.`);
    }
    return h("button", { type: "button", id: "job-more", onclick: () => {
      this.limit = Math.min(this.limit + PAGE, MOST - 1);
      this.again();
    } }, `Show ${Math.min(PAGE, MOST - 1 - this.limit)} more`);
  },
};

export const jobPage = {
  mount(main, { jobId, again }) {
    this.jobId = jobId;
    this.again = again;
    this.logbox = new LogBox(jobId);
    this.title = h("h1", {}, "Job ", h("span", { class: "mono" }, jobId));
    this.fields = h("div", { class: "panel", id: "job-fields" });
    this.attempts = h("div", { class: "panel", id: "job-attempts" });
    this.tests = h("div", { class: "panel", id: "job-tests" });
    this.files = h("div", { class: "panel", id: "job-files" });
    this.evidence = new EvidencePanel(jobId);
    this.report = new ReportPanel(jobId);
    this.picker = h("div", { class: "attempt-picker" });
    const logs = h("section", { class: "panel", id: "job-logs" },
      h("h2", {}, "Logs"), this.picker, this.logbox.element);
    replace(main, this.title, this.fields, this.attempts, this.tests, this.evidence.element,
      this.report.element, this.files, logs);
  },

  async refresh() {
    const id = encodeURIComponent(this.jobId);
    const [job, attempts, files] = await Promise.all([
      getJson(`/jobs/${id}`), getJson(`/jobs/${id}/attempts`), getJson(`/jobs/${id}/files`)]);
    replace(this.title, `${job.test_path} `, badge(job.status));
    this.drawFields(job);
    this.drawAttempts(attempts.attempts);
    this.drawTests(job.tests);
    this.drawFiles(files.files);
    this.drawPicker(attempts.attempts);
    await Promise.all([this.logbox.update(), this.evidence.update(), this.report.update(files.files)]);
  },

  drawFields(job) {
    const rows = [
      ["Job id", h("span", { class: "mono" }, job.job_id)], ["Status", badge(job.status)],
      ["Org", job.org_id], ["App build", h("span", { class: "mono" }, job.app_version_id)],
      ["Target", job.target], ["Priority", `P${job.priority}`],
      ["Tries", `${tries(job, " of ")}${job.flaky ? " (flaky)" : ""}`],
      ["Device", job.device || "-"], ["Submitted", clock(job.created_at)],
      ["Started", clock(job.started_at)], ["Finished", clock(job.finished_at)],
      ["Error", h("span", { class: "error" }, job.error || "-")],
    ];
    if (job.cancel_requested) rows.push(["Cancel", cancelNote(job.status)]);
    replace(this.fields, h("dl", { class: "fields" },
      rows.map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)])));
  },

  drawAttempts(attempts) {
    const rows = attempts.map((a) => h("tr", {},
      h("td", { class: "num" }, a.attempt), h("td", {}, a.device),
      h("td", {}, clock(a.started_at)), h("td", {}, duration(a.seconds)),
      h("td", {}, badge(a.outcome || "running")), h("td", { class: "error" }, a.error || "",
        a.note ? h("div", { class: "muted note" }, a.note) : null)));
    replace(this.attempts, h("h2", {}, "Attempts"),
      table(["#", "Device", "Started", "Ran", "Outcome", "Error"], rows, "Not started yet."));
  },

  drawTests(tests) {
    const rows = (tests || []).map((t) => h("tr", {},
      h("td", {}, t.title), h("td", {}, badge(t.status)),
      h("td", {}, duration(t.duration_seconds)), h("td", { class: "error" }, t.error || "")));
    replace(this.tests, h("h2", {}, "Tests of the last attempt"), table(
      ["Test", "Result", "Took", "Error"], rows,
      "No per-test results: the executor reports them (the appwright executor does)."));
  },

  drawFiles(files) {
    const id = encodeURIComponent(this.jobId);
    const rows = files.map((f) => h("tr", {},
      h("td", { class: "num" }, f.attempt),
      h("td", {}, h("a", {
        href: `/jobs/${id}/files/${f.attempt}/${encodeURIComponent(f.name)}`,
        download: f.name,
        onclick: (event) => {
          event.preventDefault();
          download(event.currentTarget.getAttribute("href"), f.name);
        } }, f.name)),
      h("td", {}, f.media_type), h("td", { class: "num" }, f.size)));
    replace(this.files, h("h2", {}, "Report files"),
      table(["#", "File", "Type", "Bytes"], rows, "No report files."));
  },

  drawPicker(attempts) {
    const choices = [[null, "latest"], ...attempts.map((a) => [a.attempt, `attempt ${a.attempt}`])];
    replace(this.picker, attempts.length < 2 ? [] : choices.map(([attempt, label]) =>
      h("button", {
        type: "button", class: attempt === this.logbox.wanted ? "selected" : null,
        onclick: () => { this.logbox.pick(attempt); this.again(); } }, label)));
  },
};

// Charged attempts of the allowed ones; interrupted ones (a lost device, a hand-back, a
// preemption) apart, as they are not charged.
function tries(job, between) {
  const charged = job.charged_attempts ?? job.attempts;
  const interrupted = job.interrupted_attempts ? ` +${job.interrupted_attempts} interrupted` : "";
  return `${charged}${between}${job.max_attempts}${interrupted}`;
}

// An error on one line; a longer one opens in place (without opening the job's page).
function errorLine(jobId, error, opened) {
  if (!error) return "";
  const [first, ...rest] = error.trim().split("\n");
  if (!rest.length && first.length <= 120) return first;
  return h("details", {
    class: "error-line", open: opened.has(jobId),
    onclick: (event) => event.stopPropagation(),
    ontoggle: (event) => {
      if (event.currentTarget.open) opened.add(jobId); else opened.delete(jobId);
    } },
  h("summary", {}, first), h("pre", { class: "error-rest" }, error.trim()));
}

// A running job that was asked to stop may end before its agent hears of it.
function cancelNote(status) {
  if (status === "cancelled") return "requested, and it stopped";
  if (status === "running" || status === "queued") return "requested; its agent stops it soon";
  return `requested, but the job ${status} before the cancel reached it`;
}
