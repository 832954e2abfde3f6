// The Tests page: each test's health, its pass/fail history over its recent runs and a chart
// of their durations, and a quarantine button (the server says whether the token may).
import {
  act, badge, duration, filtersToHash, getJson, h, replace, s, table,
} from "./dom.js";

const SORTS = ["flaky", "failing", "slowest", "runs", "recent", "name"];

export const tests = {
  mount(main, { params, again }) {
    this.params = params;
    this.again = again;
    this.list = h("div", { class: "panel", id: "test-list" });
    replace(main, h("h1", {}, "Tests"), this.filters(params), this.list);
  },

  filters(params) {
    const sort = h("select", { name: "sort" }, SORTS.map((o) =>
      h("option", { value: o, selected: (params.get("sort") || "flaky") === o }, o)));
    const org = h("input", { name: "org_id", placeholder: "any org", autocomplete: "off",
      value: params.get("org_id") || "" });
    const form = h("form", { class: "filters", id: "test-filters" },
      h("label", {}, "Sort", sort), h("label", {}, "Org", org),
      h("button", { type: "submit" }, "Show"));
    return filtersToHash(form, "/tests");
  },

  async refresh() {
    const query = new URLSearchParams(this.params);
    query.set("limit", "200");
    const found = await getJson(`/tests?${query}`);
    const rows = found.tests.map((t) => h("tr", { "data-test": t.test_path },
      h("td", {}, t.org_id), h("td", { class: "mono" }, t.test_path),
      h("td", {}, t.target),
      h("td", { class: "status" }, badge(t.status), t.quarantined ? " quarantined" : ""),
      h("td", { class: "num" }, t.runs), h("td", { class: "num" }, percent(t.pass_rate)),
      h("td", { class: "num" }, t.flaky_builds ? percent(t.flaky_score) : "-"),
      h("td", {}, history(t.recent)), h("td", {}, chart(t.recent_seconds)),
      h("td", { class: "num" }, `${duration(t.p50_seconds)} / ${duration(t.p95_seconds)}`),
      h("td", { class: "error" }, t.last_failure ? t.last_failure.error || "failed" : ""),
      h("td", {}, this.button(t))));
    replace(this.list, h("h2", {}, `${found.tests.length} test(s); flaky: passed and failed ` +
      `on one build, in at least ${percent(found.flaky_threshold)} of its recent builds`),
    table(["Org", "Test", "Target", "Status", "Runs", "Pass", "Flaky", "Recent runs",
      "Duration", "p50 / p95", "Last failure", ""], rows,
    "No test history yet: tests appear here once they ran."));
  },

  button(test) {
    const label = test.quarantined ? "Unquarantine" : "Quarantine";
    return h("button", { type: "button", class: "quarantine", onclick: async () => {
      const target = { org_id: test.org_id, test_path: test.test_path };
      const what = `${label.toLowerCase()} ${test.test_path}`;
      const done = test.quarantined
        ? await act(what, `/quarantine?${new URLSearchParams(target)}`, { method: "DELETE" })
        : await act(what, "/quarantine", { body: { ...target, reason: "from the dashboard" } });
      if (done) this.again();
    } }, label);
  },
};

function percent(value) {
  return `${Math.round(value * 100)}%`;
}

// One square per recent run, oldest first: green passed, red failed.
function history(recent) {
  return h("span", { class: "runs", title: recent }, [...recent].map((r) =>
    h("span", { class: r === "P" ? "run passed" : "run failed" })));
}

// The recent runs' durations as a small line chart, oldest first, from the shortest to the
// longest (the title says which).
function chart(seconds) {
  const [width, height] = [120, 24];
  if (seconds.length < 2) return "-";
  const [low, top] = [Math.min(...seconds), Math.max(...seconds)];
  const span = top - low || 1;
  const points = seconds.map((v, i) =>
    `${(i / (seconds.length - 1)) * width},${height - ((v - low) / span) * (height - 2) - 1}`);
  return s("svg", { class: "spark", width, height, viewBox: `0 0 ${width} ${height}` },
    s("polyline", { points: points.join(" "), fill: "none" }),
    s("title", {}, `${seconds.length} runs, ${duration(low)} to ${duration(top)}`));
}
