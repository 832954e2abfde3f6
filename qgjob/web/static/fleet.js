// The Fleet page: agents with their state (online, draining, offline) and the drain,
// undrain and remove buttons; utilisation per target; devices out of rotation with their
// reason and an enable button; every device with its state, held build, running test, how
// long that has run, and its utilisation. The buttons show only when the server says this
// token may use them (an admin's); the server checks again on every click.
import {
  act, badge, clock, duration, getDevices, getJson, h, replace, runningCell, runningJobs, table,
} from "./dom.js";

export const fleet = {
  mount(main, { again }) {
    this.again = again;
    this.agents = h("div", { class: "panel", id: "fleet-agents" });
    this.targets = h("div", { class: "panel", id: "fleet-targets" });
    this.resting = h("div", { class: "panel", id: "fleet-resting" });
    this.devices = h("div", { class: "panel", id: "fleet-devices" });
    replace(main, h("h1", {}, "Fleet"), this.agents, this.targets, this.resting, this.devices);
  },

  async refresh() {
    const [agents, fleetDevices, jobs] = await Promise.all([
      getJson("/agents"), getDevices(), runningJobs()]);
    const may = fleetDevices.may_operate;
    this.drawAgents(agents.agents, may);
    this.drawTargets(fleetDevices.targets);
    this.drawResting(fleetDevices.devices.filter((d) => d.out_of_rotation), may);
    this.drawDevices(fleetDevices.devices, jobs);
  },

  drawAgents(agents, may) {
    const rows = agents.map((agent) => {
      const state = agentState(agent);
      const busy = agent.devices.filter((d) => d.state === "running" || d.state === "installing");
      return h("tr", { "data-agent": agent.name },
        h("td", {}, agent.name), h("td", { class: "status" }, badge(state)),
        h("td", { class: "num" }, `${busy.length}/${agent.devices.length}`),
        h("td", {}, agent.executor), h("td", {}, clock(agent.last_seen_at)),
        h("td", {}, may ? this.agentButtons(agent.name, state) : ""));
    });
    replace(this.agents, h("h2", {}, "Agents"),
      table(["Agent", "State", "Busy devices", "Executor", "Seen", ""], rows,
        "No agent is registered. Start one with `qgjob agent --devices …`."));
  },

  agentButtons(name, state) {
    const path = `/agents/${encodeURIComponent(name)}`;
    if (state === "offline") {
      return this.button("remove", `Remove`, "DELETE", path, null, `remove agent ${name}`);
    }
    return state === "draining"
      ? this.button("undrain", "Undrain", "POST", `${path}/undrain`, null, `undrain ${name}`)
      : this.button("drain", "Drain", "POST", `${path}/drain`, null, `drain ${name}`);
  },

  drawTargets(targets) {
    const rows = targets.map((t) => h("tr", { "data-target": t.target },
      h("td", {}, t.target), h("td", { class: "num" }, t.devices),
      h("td", { class: "num" }, t.in_rotation), ...usageCells(t.usage)));
    replace(this.targets, h("h2", {}, "Utilisation by target, since each device was first seen"),
      table(["Target", "Devices", "In rotation", "Busy", "Installing", "Idle",
        "Idle while work waited"], rows, "No device has been seen yet."));
  },

  drawResting(devices, may) {
    const rows = devices.map((d) => h("tr", { "data-device": d.device_id },
      h("td", { class: "mono" }, d.device_id), h("td", {}, d.target),
      h("td", { class: "error" }, d.out_of_rotation), h("td", {}, clock(d.out_since)),
      h("td", { class: "num" }, d.failure_streak),
      h("td", {}, may ? this.button("enable", "Enable", "POST", "/devices/enable",
        { device: d.device_id }, `enable ${d.device_id}`) : "")));
    replace(this.resting, h("h2", {}, "Out of rotation"),
      table(["Device", "Target", "Why", "Since", "Failures in a row", ""], rows,
        "Every device is in rotation."));
  },

  drawDevices(devices, jobs) {
    const rows = devices.map((d) => h("tr", { "data-device": d.device_id },
      h("td", {}, d.agent), h("td", {}, d.name), h("td", {}, d.target),
      h("td", { class: "status" }, badge(d.state), d.draining ? " draining" : "",
        d.out_of_rotation ? " out of rotation" : ""),
      h("td", { class: "mono" }, d.holds_app_version_id || "-"),
      h("td", {}, runningCell(d.current_job_id, jobs)),
      ...usageCells(d.usage)));
    replace(this.devices, h("h2", {}, "Devices"),
      table(["Agent", "Device", "Target", "State", "Holds build", "Running test",
        "Busy", "Installing", "Idle", "Idle while work waited"], rows,
      "No device is registered."));
  },

  // A button that calls the API and shows the page again; a refusal stays shown (act).
  button(kind, label, method, path, body, what) {
    return h("button", { type: "button", class: `fleet-${kind}`, onclick: async (event) => {
      event.currentTarget.disabled = true;
      await act(what, path, { method, body: body || undefined });
      this.again();
    } }, label);
  },
};

function agentState(agent) {
  return agent.state === "online" && agent.draining ? "draining" : agent.state;
}

function usageCells(usage) {
  const share = (value) => (value === null ? "-" : `${Math.round(value * 100)}%`);
  return [
    h("td", { class: "num" }, share(usage.busy_share)),
    h("td", { class: "num" }, share(usage.installing_share)),
    h("td", { class: "num" }, share(usage.idle_share)),
    h("td", { class: "num" }, duration(usage.idle_while_work_waited_seconds)),
  ];
}
