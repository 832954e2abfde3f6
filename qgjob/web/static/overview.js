// The overview: queue depth, waiting builds, groups, agents and devices.
import { TARGETS, badge, clock, getJson, h, jobLink, replace, table } from "./dom.js";

export const overview = {
  mount(main) {
    this.cards = h("div", { class: "cards" });
    this.depth = h("div", { class: "grid" });
    this.lanes = h("div", { class: "panel", id: "waiting" });
    this.groups = h("div", { class: "panel", id: "groups" });
    this.fleet = h("div", { class: "panel", id: "fleet" });
    replace(main, h("h1", {}, "Overview"), this.cards, this.depth, this.lanes, this.groups,
      this.fleet);
  },

  async refresh() {
    const [queue, groups, agents] = await Promise.all([
      getJson("/queue"), getJson("/groups"), getJson("/agents")]);
    this.drawCards(queue, agents.agents);
    this.drawDepth(queue);
    this.drawLanes(queue.lanes);
    this.drawGroups(groups.groups);
    this.drawFleet(agents.agents);
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
      h("td", {}, lane.reason)));
    replace(this.lanes, h("h2", {}, "Waiting builds, in the order devices take them"),
      table(["Target", "#", "App", "Org", "Queued", "Priority", "Start ~", "Why it waits"],
        rows, "Nothing waits."));
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

  drawFleet(agents) {
    const rows = agents.flatMap((agent) => agent.devices.map((device) => h("tr", {},
      h("td", {}, agent.name), h("td", {}, badge(agent.state)), h("td", {}, device.name),
      h("td", {}, device.target), h("td", {}, badge(device.state)),
      h("td", { class: "mono" }, device.holds_app_version_id || "-"),
      h("td", {}, jobLink(device.current_job_id)), h("td", {}, clock(device.last_seen_at)))));
    replace(this.fleet, h("h2", {}, "Agents and devices"),
      table(["Agent", "Agent state", "Device", "Target", "State", "Holds build", "Running job",
        "Seen"], rows, "No agent is registered. Start one with `qgjob agent --devices …`."));
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

