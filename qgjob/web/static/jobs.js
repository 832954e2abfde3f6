// The job list with its filters, and one job's page: fields, attempts, tests, files and logs.
import {
  STATUSES, TARGETS, badge, clock, download, duration, getJson, getLogs, h, jobLink, replace,
  table,
} from "./dom.js";

export const jobs = {
  mount(main, { params }) {
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
      h("td", {}, tries(job, "/")), h("td", {}, job.device || "-"),
      h("td", {}, clock(job.created_at)), h("td", { class: "error" }, job.error || "")));
    replace(this.list, h("h2", {}, `${found.count} job(s), newest first`),
      table(["Job", "Status", "Org", "App", "Target", "Priority", "Test", "Tries", "Device",
        "Submitted", "Error"], rows, "No job matches."));
  },
};

export const jobPage = {
  mount(main, { jobId, again }) {
    this.jobId = jobId;
    this.again = again;
    this.attempt = null;
    this.title = h("h1", {}, "Job ", h("span", { class: "mono" }, jobId));
    this.fields = h("div", { class: "panel", id: "job-fields" });
    this.attempts = h("div", { class: "panel", id: "job-attempts" });
    this.tests = h("div", { class: "panel", id: "job-tests" });
    this.files = h("div", { class: "panel", id: "job-files" });
    this.picker = h("div", { class: "attempt-picker" });
    this.logs = h("div", { id: "job-logs-body" });
    const logs = h("section", { class: "panel", id: "job-logs" },
      h("h2", {}, "Logs"), this.picker, this.logs);
    replace(main, this.title, this.fields, this.attempts, this.tests, this.files, logs);
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
      ["Tries", `${tries(job, " of ")}${job.flaky ? " (flaky)" : ""}`],
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
        type: "button", class: attempt === this.attempt ? "selected" : null,
        onclick: () => { this.attempt = attempt; this.again(); } }, label)));
  },
};

// Charged attempts of the allowed ones; interrupted ones (a lost device, a hand-back, a
// preemption) apart, as they are not charged.
function tries(job, between) {
  const charged = job.charged_attempts ?? job.attempts;
  const interrupted = job.interrupted_attempts ? ` +${job.interrupted_attempts} interrupted` : "";
  return `${charged}${between}${job.max_attempts}${interrupted}`;
}
