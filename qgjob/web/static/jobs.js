// The job list: status tabs, a search in builds and tests, org and target filters, a page
// at a time with nothing cut off silently; and one job's page: fields, why it waits,
// attempts, tests, evidence, report, files and logs.
import {
  TARGETS, badge, clock, download, duration, errorLine, filtersToHash, getJson, h, jobHref,
  jobSeconds, replace, table, testLink, when,
} from "./dom.js";
import { EvidencePanel, ReportPanel } from "./evidence.js";
import { LogBox } from "./logbox.js";

const PAGE = 100;
const MOST = 1000;  // the most GET /jobs answers with at once: more come in further pages
const TABS = [["", "all"], ["queued", "queued"], ["running", "running"], ["failed", "failed"],
  ["completed", "passed"], ["cancelled", "cancelled"]];

export const jobs = {
  opened: new Set(),  // jobs whose error the user expanded: kept open across refreshes

  mount(main, { params, again }) {
    this.params = params;
    this.again = again;
    this.shown = PAGE;
    this.list = h("div", { class: "panel", id: "job-list" });
    // One button for the view's life: a live refresh moves it rather than drawing a new one,
    // so a click that lands while the list is redrawn is not lost on a button taken away.
    this.more = h("button", { type: "button", id: "job-more", onclick: () => {
      this.shown += PAGE;
      this.again();
    } }, `Show ${PAGE} more`);
    replace(main, h("h1", {}, "Jobs"), this.tabs(params), this.filters(params), this.list);
  },

  tabs(params) {
    const current = params.get("status") || "";
    return h("nav", { class: "tabs", id: "job-tabs" }, TABS.map(([status, label]) => {
      const query = new URLSearchParams(params);
      if (status) query.set("status", status); else query.delete("status");
      return h("a", { href: `#/jobs${query.toString() ? `?${query}` : ""}`,
        class: status === current ? "selected" : null, "data-status": status || "all" }, label);
    }));
  },

  filters(params) {
    const field = (label, control) => h("label", {}, label, control);
    const input = (name, placeholder) => h("input", {
      name, placeholder, value: params.get(name) || "", autocomplete: "off" });
    const form = h("form", { class: "filters", id: "job-filters" },
      params.get("status") ? h("input", { type: "hidden", name: "status",
        value: params.get("status") }) : null,
      field("Search", input("search", "part of a build or test")),
      field("Org", input("org_id", "any org")),
      field("Target", h("select", { name: "target" }, h("option", { value: "" }, "any"),
        TARGETS.map((t) => h("option", { value: t, selected: params.get("target") === t }, t)))),
      h("button", { type: "submit" }, "Filter"));
    return filtersToHash(form, "/jobs");
  },

  // Queued jobs in the order devices take them; the rest newest first.
  order() {
    return this.params.get("status") === "queued" ? "claim" : "newest";
  },

  // The first `shown` jobs, fetched a page of up to MOST at a time.
  async fetchShown() {
    const found = [];
    let cursor = null;
    do {
      const query = new URLSearchParams(this.params);
      query.set("order", this.order());
      query.set("limit", String(Math.min(this.shown - found.length, MOST)));
      if (cursor) query.set("cursor", cursor);
      const page = await getJson(`/jobs?${query}`);
      found.push(...page.jobs);
      cursor = page.next_cursor;
    } while (cursor && found.length < this.shown);
    return { found, more: Boolean(cursor) };
  },

  async refresh() {
    const { found, more } = await this.fetchShown();
    const rows = found.map((job) => h("tr", {
      class: "link", "data-job-id": job.job_id,
      onclick: () => { location.hash = jobHref(job.job_id); } },
      h("td", { class: "test" }, testLink(job)),
      h("td", { class: "status" }, badge(job.status), job.flaky ? " flaky" : ""),
      h("td", { class: "error" }, errorLine(job.job_id, job.error, this.opened)),
      h("td", { class: "mono" }, job.app_version_id), h("td", {}, job.org_id),
      h("td", {}, job.target), h("td", {}, `P${job.priority}`),
      h("td", { class: "num" }, duration(jobSeconds(job))),
      h("td", {}, when(job.created_at)), h("td", {}, tries(job, "/")),
      h("td", {}, job.device || "-")));
    replace(this.list, h("h2", { id: "job-count" }, this.heading(found.length, more)),
      table(["Test", "Status", "Error", "Build", "Org", "Target", "Priority", "Took",
        "Submitted", "Tries", "Device"], rows, "No job matches."),
      more ? this.more : null);
  },

  heading(count, more) {
    const order = this.order() === "claim"
      ? "in the order devices take them within a build (higher priority, then older)"
      : "newest first";
    if (more) return `${count} jobs shown, ${order}; more match`;
    return `${count} job(s), ${order}`;
  },
};

export const jobPage = {
  mount(main, { jobId, again }) {
    this.jobId = jobId;
    this.again = again;
    this.logbox = new LogBox(jobId);
    this.title = h("h1", {}, "Job ", h("span", { class: "mono" }, jobId));
    this.fields = h("div", { class: "panel", id: "job-fields" });
    this.place = h("div", { class: "panel", id: "job-place", hidden: true });
    this.attempts = h("div", { class: "panel", id: "job-attempts" });
    this.tests = h("div", { class: "panel", id: "job-tests" });
    this.files = h("div", { class: "panel", id: "job-files" });
    this.evidence = new EvidencePanel(jobId);
    this.report = new ReportPanel(jobId);
    this.picker = h("div", { class: "attempt-picker" });
    const logs = h("section", { class: "panel", id: "job-logs" },
      h("h2", {}, "Logs"), this.picker, this.logbox.element);
    replace(main, this.title, this.fields, this.place, this.attempts, this.tests, this.evidence.element,
      this.report.element, this.files, logs);
  },

  async refresh() {
    const id = encodeURIComponent(this.jobId);
    const [job, attempts, files] = await Promise.all([
      getJson(`/jobs/${id}`), getJson(`/jobs/${id}/attempts`), getJson(`/jobs/${id}/files`)]);
    replace(this.title, `${job.test_path} `, badge(job.status));
    this.drawFields(job);
    await this.drawPlace(job);
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

  // Why a job that has not started waits: its build's place in line on its target, its own
  // place within its build, and a rough start.
  async drawPlace(job) {
    const place = job.status === "queued"
      ? await getJson(`/jobs/${encodeURIComponent(this.jobId)}/place`) : null;
    this.place.hidden = !(place && place.waiting);
    if (this.place.hidden) { replace(this.place); return; }
    const facts = [];
    if (place.build_position !== null) {
      facts.push(`Its build is ${ordinal(place.build_position)} of ${place.builds_waiting} `
        + `build(s) waiting for a device of target ${job.target}.`);
    } else if (place.devices_working) {
      facts.push(`${place.devices_working} device(s) work on its build now.`);
    }
    if (place.ahead_in_build !== null) {
      facts.push(place.ahead_in_build
        ? `${place.ahead_in_build} of its build's ${place.build_queued ?? "?"} queued job(s) `
          + "go before it (higher priority, then older)."
        : "It is the next job of its build.");
    }
    replace(this.place, h("h2", {}, "Why it waits"),
      h("p", { id: "job-place-reason" }, place.reason),
      facts.map((fact) => h("p", { class: "muted" }, fact)),
      place.estimated_start_at ? h("p", {}, `Start ~ ${clock(place.estimated_start_at)} `,
        h("span", { class: "muted" }, "(an estimate from learned durations)")) : null);
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

function ordinal(n) {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10];
  return `${n}${suffix || "th"}`;
}

// A running job that was asked to stop may end before its agent hears of it.
function cancelNote(status) {
  if (status === "cancelled") return "requested, and it stopped";
  if (status === "running" || status === "queued") return "requested; its agent stops it soon";
  return `requested, but the job ${status} before the cancel reached it`;
}
