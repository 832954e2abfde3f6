// A job's log box: it asks the API for what came after the last offset it holds and appends
// it, so the scroll position and a selection survive every refresh. "Follow" keeps the end in
// view while a test runs (scrolling up turns it off, scrolling to the end back on); "raw"
// downloads the attempt's output as it was printed.
import { AnsiText } from "./ansi.js";
import { authHeaders, download, h, replace } from "./dom.js";

const POLL_MS = 1000;

export class LogBox {
  constructor(jobId) {
    this.jobId = jobId;
    this.wanted = null;  // an attempt the user picked; null: the latest
    this.follow = h("input", { type: "checkbox", id: "job-logs-follow", checked: true });
    this.raw = h("a", { href: "#", id: "job-logs-raw", onclick: (event) => {
      event.preventDefault();
      if (this.shown) {
        download(this.path(this.shown, 0), `${this.jobId}-attempt-${this.shown}.log`);
      }
    } }, "raw");
    this.body = h("div", { id: "job-logs-body" });
    this.element = h("div", {},
      h("div", { class: "log-tools" }, h("label", {}, this.follow, " follow"), this.raw),
      this.body);
    this.busy = null;
    this.reset(null);
  }

  reset(attempt) {
    this.shown = attempt;
    this.next = 0;
    this.finished = false;
    this.ansi = new AnsiText();
    this.pre = null;
    replace(this.body, h("div", { class: "empty", id: "job-logs-none" }, "no output recorded"));
  }

  pick(attempt) {
    this.wanted = attempt;
    this.reset(null);
  }

  // One fetch at a time: refreshes that come meanwhile wait for it, then ask again.
  update() {
    if (!this.busy) {
      this.busy = this.fetchMore().finally(() => { this.busy = null; });
    }
    return this.busy;
  }

  path(attempt, offset) {
    const query = new URLSearchParams({ offset });
    if (attempt) query.set("attempt", attempt);
    return `/jobs/${encodeURIComponent(this.jobId)}/logs?${query}`;
  }

  async fetchMore() {
    const asked = this.next;
    const response = await fetch(this.path(this.wanted ?? this.shown, asked),
      { headers: authHeaders() });
    if (!response.ok) return;
    const text = await response.text();
    const attempt = Number(response.headers.get("X-Qgjob-Attempt")) || null;
    if (attempt !== this.shown) {
      // A new attempt began (or another was picked): show it from its beginning.
      this.reset(attempt);
      if (asked !== 0) { await this.fetchMore(); return; }
    }
    this.next = Number(response.headers.get("X-Qgjob-Next-Offset")) || this.next;
    this.finished = response.headers.get("X-Qgjob-Finished") === "true";
    if (text) this.append(text);
    this.schedule();
  }

  append(text) {
    if (!this.pre) {
      this.pre = h("pre", { class: "logs", id: "job-logs-text",
        onscroll: () => { this.follow.checked = atEnd(this.pre); } });
      replace(this.body, this.pre);
    }
    this.pre.append(...this.ansi.nodes(text));
    if (this.follow.checked) this.pre.scrollTop = this.pre.scrollHeight;
  }

  // While the attempt runs, ask again every second (output does not send change events);
  // stop once the box has left the page.
  schedule() {
    clearTimeout(this.timer);
    if (this.finished || !this.element.isConnected) return;
    this.timer = setTimeout(() => {
      if (this.element.isConnected) this.update();
    }, POLL_MS);
  }
}

function atEnd(node) {
  return node.scrollHeight - node.scrollTop - node.clientHeight < 4;
}
