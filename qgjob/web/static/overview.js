// The overview: queue depth, recent failures, waiting builds, groups, and every device with
// the test it runs.
import {
  TARGETS, badge, clock, errorLine, getJson, h, replace, runningCell, runningJobs, table,
  testLink, when,
} from "./dom.js";

const FAILURES = 8;

export const overview = {
  opened: new Set(),  // failures whose error the user expanded

  mount(main) {
    this.cards = h("div", { class: "cards" });
    this.depth = h("div", { class: "grid" });
    this.failures = h("div", { class: "panel", id: "recent-failures" });
    this.lanes = h("div", { class: "panel", id: "waiting" });
    this.groups = h("div", { class: "panel", id: "groups" });
    this.fleet = h("div", { class: "panel", id: "fleet" });
    replace(main, h("h1", {}, "Overview"), this.cards, this.failures, this.fleet, this.lanes,
      this.depth, this.groups);
  },

  async refresh() {
    const [queue, groups, agents, running, failed] = await Promise.all([
      getJson("/queue"), getJson("/groups"), getJson("/agents"), runningJobs(),
      getJson(`/jobs?status=failed&limit=${FAILURES}`)]);
    this.drawCards(queue, agents.agents);
    this.drawDepth(queue);
    this.drawLanes(queue.lanes);
    this.drawGroups(groups.groups);
    this.drawFleet(agents.agents, running);
    this.drawFailures(failed.jobs, Boolean(failed.next_cursor));
  },

  // The latest failed jobs (the newest submitted; the last to fail first among them).
  drawFailures(jobs, more) {
    const latest = [...jobs].sort((a, b) =>
      Date.parse(b.finished_at || b.created_at) - Date.parse(a.finished_at || a.created_at));
    const rows = latest.map((job) => h("tr", { "data-job-id": job.job_id },
      h("td", { class: "test" }, testLink(job)),
      h("td", { class: "mono" }, job.app_version_id), h("td", {}, job.org_id),
      h("td", {}, when(job.finished_at)),
      h("td", { class: "error" }, errorLine(job.job_id, job.error || "failed", this.opened))));
    replace(this.failures, h("h2", {}, "Recent failures"),
      table(["Test", "Build", "Org", "Failed", "Error"], rows, "No job has failed."),
      more ? h("a", { href: "#/jobs?status=failed", id: "all-failures" },
        "All failed jobs →") : null);
  },

  drawCards(queue, agents) {
    const devices = agents.flatMap((a) => a.devices);
    const busy = devices.filter((d) => d.state === "running" || d.state === "installing");
    const card = (number, label) => h("div", { class: "card" },
      h("div", { class: "number" }, number), h("div", { class: "label" }, label));
    replace(this.cards,
      card(queue.queued, "jobs queued"), card(queue.running, "jobs running"),
      card(agents.filter((a) => a.state === "online").length, "agents online"),
      card(`${busy.length}/${devices.length}`, "devices busy"));
  },

  drawDepth(queue) {
    const priorities = {};
    for (let p = 5; p >= 1; p -= 1) priorities[`P${p}`] = queue.by_priority[String(p)] || 0;
    const targets = {};
    for (const t of TARGETS) targets[t] = queue.by_target[t] || 0;
    replace(this.depth,
      depthPanel("Queued by priority", priorities),
      depthPanel("Queued by target", targets),
      depthPanel("Queued by org", Object.fromEntries(
        Object.entries(queue.by_org).filter(([, n]) => n > 0))));
  },

  drawLanes(lanes) {
    const rows = lanes.map((lane) => h("tr", {},
      h("td", {}, lane.target), h("td", { class: "num" }, lane.position ?? "-"),
      h("td", { class: "mono" }, lane.app_version_id), h("td", {}, lane.org_id),
      h("td", { class: "num" }, lane.queued), h("td", {}, `P${lane.top_priority}`),
      h("td", {}, lane.estimated_start_at ? clock(lane.estimated_start_at) : "-"),
      h("td", {}, lane.reason), h("td", {}, h("a", { href: `#/jobs?${new URLSearchParams({
        status: "queued", app_version_id: lane.app_version_id, target: lane.target,
        org_id: lane.org_id })}` }, "its jobs in order →"))));
    replace(this.lanes, h("h2", {}, "Waiting builds, in the order devices take them"),
      table(["Target", "#", "App", "Org", "Queued", "Priority", "Start ~", "Why it waits", ""],
        rows, "Nothing waits."),
      h("a", { href: "#/jobs?status=queued" }, "Every queued job, in the order devices take them"
        + " within its build →"));
  },

  drawGroups(groups) {
    const rows = groups.map((group) => {
      const query = new URLSearchParams({
        app_version_id: group.app_version_id, target: group.target });
      const counts = Object.entries(group.counts).filter(([, n]) => n)
        .map(([status, n]) => h("span", { class: "chip" }, `${n} ${status}`));
      return h("tr", {},
        h("td", { class: "mono" }, group.app_version_id), h("td", {}, group.target),
        h("td", {}, group.org_id || "(all orgs)"), h("td", {}, counts),
        h("td", {}, h("a", { href: `#/jobs?${query}` }, "jobs →")));
    });
    replace(this.groups, h("h2", {}, "Groups (app build × target)"),
      table(["App", "Target", "Org", "Jobs", ""], rows, "No group has queued or running jobs."));
  },

  drawFleet(agents, running) {
    const rows = agents.flatMap((agent) => agent.devices.map((device) => h("tr", {
      "data-device": device.device_id },
    h("td", {}, `${agent.name} / ${device.name}`), h("td", {}, device.target),
    h("td", { class: "status" }, badge(device.state),
      agent.state === "online" ? "" : [" ", badge(agent.state)]),
    h("td", {}, runningCell(device.current_job_id, running)),
    h("td", { class: "mono" }, device.holds_app_version_id || "-"),
    h("td", {}, clock(device.last_seen_at)))));
    replace(this.fleet, h("h2", {}, "Devices and what they run"),
      table(["Device", "Target", "State", "Running test", "Holds build", "Seen"],
        rows, "No agent is registered. Start one with `qgjob agent --devices …`."));
  },
};

function depthPanel(title, counts) {
  const entries = Object.entries(counts);
  const most = Math.max(1, ...entries.map(([, n]) => n));
  const rows = entries.map(([label, n]) => h("div", { class: "bar-row" },
    h("span", {}, label),
    h("div", { class: "bar-track" },
      h("div", { class: "bar-fill", style: `width: ${(100 * n) / most}%` })),
    h("span", { class: "num" }, n)));
  return h("div", { class: "panel" }, h("h2", {}, title),
    rows.length ? rows : h("div", { class: "empty" }, "Nothing queued."));
}

