"""The fleet operations through the app: drain, undrain, remove, devices, enable, trace."""

from __future__ import annotations

from fastapi.testclient import TestClient

from qgjob.sim.trace import parse_trace
from tests.api.test_agent_protocol import JOB, claim, register


def test_a_drain_hands_back_unstarted_work_and_shows(client: TestClient) -> None:
    ids = [client.post("/jobs", json={**JOB, "test_path": f"t{i}.js"}).json()["job_id"]
           for i in range(3)]
    agent = register(client)
    batch = claim(client, agent).json()
    first = batch["jobs"][0]["job_id"]
    client.post(f"/agents/{agent}/jobs/{first}/start", json={"lease_id": batch["lease_id"]})

    drained = client.post("/agents/lab/drain")

    assert drained.status_code == 200, drained.text
    assert sorted(drained.json()["released_job_ids"]) == sorted(
        j["job_id"] for j in batch["jobs"][1:])
    assert {client.get(f"/jobs/{i}").json()["status"] for i in ids if i != first} == {"queued"}
    [listed] = client.get("/agents").json()["agents"]
    assert listed["draining"] is True and listed["draining_since"] is not None
    assert claim(client, agent).status_code == 204
    report = client.post(f"/agents/{agent}/jobs/{first}/report",
                         json={"lease_id": batch["lease_id"], "attempt": 1, "outcome": "passed"})
    assert report.json()["status"] == "completed"
    assert client.post("/agents/lab/undrain").json() == {
        "name": "lab", "draining": False, "released_job_ids": []}
    assert claim(client, agent).status_code == 200


def test_bad_names_and_live_agents_get_clear_answers(client: TestClient) -> None:
    register(client)
    unknown = client.post("/agents/nobody/drain")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_agent")
    assert client.post("/agents/bad%20name/drain").status_code == 422
    live = client.delete("/agents/lab")
    assert (live.status_code, live.json()["code"]) == (409, "agent_online")
    assert "stop its process first" in live.json()["detail"]
    register(client, name="lab2")
    twins = client.post("/devices/enable", json={"device": "emulator-1"})
    assert (twins.status_code, twins.json()["code"]) == (409, "device_ambiguous")
    missing = client.post("/devices/enable", json={"device": "lab/nope"})
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_device")
    assert client.post("/devices/enable", json={"device": "a b"}).status_code == 422
    assert client.post("/devices/enable", json={}).status_code == 422
    assert client.get("/trace", params={"since_seconds": -1}).status_code == 422
    assert client.get("/trace", params={"since_seconds": "x"}).status_code == 422


def test_devices_list_rotation_and_utilisation(client: TestClient) -> None:
    register(client, [{"name": "e1", "target": "emulator"}, {"name": "e2", "target": "emulator"}])
    enabled = client.post("/devices/enable", json={"device": "e1"})
    assert enabled.status_code == 200 and enabled.json()["device_id"] == "lab/e1"
    listing = client.get("/devices").json()
    assert [d["device_id"] for d in listing["devices"]] == ["lab/e1", "lab/e2"]
    device = listing["devices"][0]
    assert device["out_of_rotation"] is None and device["usage"]["busy_share"] is None
    [target] = listing["targets"]
    assert (target["target"], target["devices"], target["in_rotation"]) == ("emulator", 2, 2)


def test_the_trace_loads_in_the_simulator(client: TestClient) -> None:
    job_id = client.post("/jobs", json=JOB).json()["job_id"]
    client.post("/jobs", json={**JOB, "test_path": "never.js"})  # no verdict: left out
    agent = register(client)
    batch = claim(client, agent).json()
    lease = batch["lease_id"]
    client.post(f"/agents/{agent}/jobs/{job_id}/start", json={"lease_id": lease})
    client.post(f"/agents/{agent}/jobs/{job_id}/report",
                json={"lease_id": lease, "attempt": 1, "outcome": "passed"})
    trace = client.get("/trace").json()
    parsed = parse_trace(trace)
    assert [j.job_id for j in parsed.jobs] == [job_id]
    assert parsed.jobs[0].outcomes == ("pass",) and parsed.jobs[0].submit_at == 0.0
    assert [d.device_id for d in parsed.devices] == ["lab/emulator-1"]
    assert trace["recorded"]["jobs_left_out"] == 1
