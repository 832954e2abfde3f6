// qgjob dashboard: routing between the pages, and live updates from the server's change
// events (polling every 2 s while the stream reconnects). Plain JavaScript modules, no build
// step, nothing loaded from elsewhere.
import { showProblem } from "./dom.js";
import { jobPage, jobs } from "./jobs.js";
import { overview } from "./overview.js";
import { timeline } from "./timeline.js";

const POLL_MS = 2000;

function route() {
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const context = {
    params: new URLSearchParams(query || ""),
    again: () => live.refreshNow(),
  };
  const jobMatch = /^\/jobs\/(.+)$/.exec(path || "");
  let view = overview;
  let name = "overview";
  if (jobMatch) {
    [view, name, context.jobId] = [jobPage, "jobs", decodeURIComponent(jobMatch[1])];
  } else if (path === "/jobs") {
    [view, name] = [jobs, "jobs"];
  } else if (path === "/timeline") {
    [view, name] = [timeline, "timeline"];
  }
  view.mount(document.getElementById("main"), context);
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.view === name);
  }
  live.show(view);
}

const live = {
  view: null,
  busy: false,
  pending: false,
  poller: null,

  show(view) {
    this.view = view;
    this.refreshNow();
  },

  // One refresh at a time; changes that arrive meanwhile cause one more.
  async refreshNow() {
    if (this.busy) { this.pending = true; return; }
    this.busy = true;
    const view = this.view;
    try {
      await view.refresh();
      showProblem(null);
    } catch (error) {
      showProblem(`Cannot load this page: ${error.message}`);
    } finally {
      this.busy = false;
      if (this.pending) { this.pending = false; this.refreshNow(); }
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
route();
live.connect();
