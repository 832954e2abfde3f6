// qgjob dashboard: routing between the pages, and live updates from the server's change
// events (polling every 2 s while the stream reconnects). Plain JavaScript modules, no build
// step, nothing loaded from elsewhere.
import {
  NeedToken, readEvents, setToken, showActionProblem, showProblem, token,
} from "./dom.js";
import { fleet } from "./fleet.js";
import { jobPage, jobs } from "./jobs.js";
import { overview } from "./overview.js";
import { runPage, runs } from "./runs.js";
import { tests } from "./tests.js";
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
    [view, name, context.jobId] = [jobPage, "jobs", idIn(jobMatch[1])];
  } else if (/^\/runs\/.+$/.test(path || "")) {
    [view, name, context.runId] = [runPage, "runs", idIn(path.slice(6))];
  } else if (path === "/runs") {
    [view, name] = [runs, "runs"];
  } else if (path === "/jobs") {
    [view, name] = [jobs, "jobs"];
  } else if (path === "/tests") {
    [view, name] = [tests, "tests"];
  } else if (path === "/fleet") {
    [view, name] = [fleet, "fleet"];
  } else if (path === "/timeline") {
    [view, name] = [timeline, "timeline"];
  }
  view.mount(document.getElementById("main"), context);
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.view === name);
  }
  live.show(view);
}

// The id in an address, as the pages write it (percent-encoded). A malformed escape
// (`#/jobs/%`) is taken as it stands: decodeURIComponent would throw and leave the page
// empty; as an id no job has, the page says it cannot load it, as for any other unknown id.
function idIn(text) {
  try {
    return decodeURIComponent(text);
  } catch {  // URIError, its only error
    return text;
  }
}

// Pages this token may not read leave the nav (the timeline, for a submitter's token).
function showNav() {
  document.querySelector('nav a[data-view="timeline"]').hidden = timeline.refused();
}

const live = {
  view: null,
  busy: false,
  pending: false,
  poller: null,
  events: null,
  stream: null,

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
      askForToken(false);
    } catch (error) {
      if (error instanceof NeedToken) askForToken(true);
      else showProblem(`Cannot load this page: ${error.message}`);
    } finally {
      showNav();
      this.busy = false;
      if (this.pending) { this.pending = false; this.refreshNow(); }
    }
  },

  connect() {
    const indicator = document.getElementById("live");
    if (this.stream) { this.stream.abort(); this.stream = null; }
    if (token()) { this.follow(indicator); return; }
    if (this.events) { this.events.close(); this.events = null; }
    if (!window.EventSource) { this.poll(indicator); return; }
    const events = new EventSource("/events");
    this.events = events;
    events.addEventListener("change", () => this.refreshNow());
    events.onopen = () => {
      clearInterval(this.poller); this.poller = null;
      indicator.textContent = "live"; indicator.className = "live on";
    };
    // The browser reconnects by itself; poll meanwhile so the page stays current.
    events.onerror = () => this.poll(indicator);
  },

  // With a token: the same events through fetch (EventSource cannot send the token).
  async follow(indicator) {
    if (this.events) { this.events.close(); this.events = null; }
    const stream = new AbortController();
    this.stream = stream;
    while (this.stream === stream) {
      try {
        await readEvents(() => {
          clearInterval(this.poller); this.poller = null;
          indicator.textContent = "live"; indicator.className = "live on";
        }, () => this.refreshNow(), stream.signal);
      } catch (error) {
        if (this.stream !== stream) return;
        if (error instanceof NeedToken) askForToken(true);
      }
      this.poll(indicator);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  },

  poll(indicator) {
    indicator.textContent = "polling"; indicator.className = "live";
    if (!this.poller) this.poller = setInterval(() => this.refreshNow(), POLL_MS);
  },
};

// The token form: shown when the server asks for a token (HTTP 401).
function askForToken(needed) {
  const form = document.getElementById("token-form");
  form.hidden = !needed;
  document.getElementById("forget-token").hidden = !token();
  if (needed) {
    showProblem(token() ? "The server refused this API token." : null);
    form.elements.token.focus();
  }
}

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  setToken(form.elements.token.value.trim());
  form.reset();
  live.connect();
  live.refreshNow();
});

document.getElementById("forget-token").addEventListener("click", (event) => {
  event.preventDefault();
  setToken(null);
  live.connect();
  live.refreshNow();
});

document.querySelector("#action-problem .dismiss").addEventListener("click", () =>
  showActionProblem(null));

window.addEventListener("hashchange", () => { showActionProblem(null); route(); });
route();
live.connect();
