"""`GET /metrics`: the Prometheus text format, with gauges read from the store and counters
updated where things happen."""

from collections.abc import Iterator
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from qgjob.api.app import create_app
from qgjob.settings import ServerSettings
from tests.api.test_agent_protocol import JOB, register
from tests.api.test_history_api import run_batch

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_a_fresh_server(client: TestClient) -> None:
    samples = scrape(client)
    assert value(samples, "qgjob_store_up") == 1
    assert value(samples, "qgjob_queue_depth", target="browserstack", priority="5") == 0
    assert value(samples, "qgjob_jobs", status="queued", state="retry_wait") == 0
    assert value(samples, "qgjob_agents", state="online") == 0


def test_queue_depth_by_target_and_priority(client: TestClient) -> None:
    client.post("/jobs", json=JOB)
    client.post("/jobs", json={**JOB, "priority": "urgent", "target": "device"})
    client.post("/jobs", json={**JOB, "priority": "urgent", "target": "device"})
    samples = scrape(client)
    assert value(samples, "qgjob_queue_depth", target="emulator", priority="3") == 1
    assert value(samples, "qgjob_queue_depth", target="device", priority="5") == 2
    assert value(samples, "qgjob_jobs", status="queued", state="queued") == 3


def test_work_shows_in_counters_histograms_and_gauges(client: TestClient) -> None:
    client.post("/jobs", json=JOB)
    client.post("/jobs", json={**JOB, "test_path": "tests/login.spec.js", "max_attempts": 1})
    agent = register(client)
    run_batch(client, agent, ("passed", None), ("failed", "boom"))
    samples = scrape(client)
    assert value(samples, "qgjob_jobs", status="completed", state="completed") == 1
    assert value(samples, "qgjob_jobs", status="failed", state="failed") == 1
    assert value(samples, "qgjob_installs_total", target="emulator", ok="true") == 1
    assert value(samples, "qgjob_install_duration_seconds_sum", target="emulator") == 2.5
    # Tests never seen are priced at a minute each: two of them are a batch apiece.
    assert value(samples, "qgjob_claim_seconds_count", target="emulator", result="batch") == 2
    for outcome in ("passed", "failed"):
        assert value(samples, "qgjob_attempt_duration_seconds_count", target="emulator",
                     outcome=outcome) == 1
    assert value(samples, "qgjob_agents", state="online") == 1
    assert value(samples, "qgjob_devices", target="emulator", state="idle") == 1


def test_every_app_counts_for_itself(tmp_path: Path) -> None:
    def app(name: str) -> Iterator[TestClient]:
        settings = ServerSettings(database_url=f"sqlite:///{tmp_path / name}")
        with TestClient(create_app(settings, maintenance=False)) as client:
            yield client

    for first in app("one.db"):
        agent = register(first)
        first.post("/jobs", json=JOB)
        run_batch(first, agent, ("passed", None))
        for second in app("two.db"):
            assert value(scrape(second), "qgjob_installs_total", target="emulator",
                         ok="true") == 0
        assert value(scrape(first), "qgjob_installs_total", target="emulator", ok="true") == 1


def test_device_time_and_idle_while_work_waited(client: TestClient) -> None:
    client.post("/agents", json={"name": "lab", "devices": [
        {"name": "e1", "target": "emulator"}]})
    client.post("/jobs", json={"org_id": "acme", "app_version_id": "v1",
                               "test_path": "tests/a.spec.js"})
    service = client.app.state.service  # type: ignore[attr-defined]
    service.store.count_device_time(1000.0, 5.0)
    service.store.count_device_time(1003.0, 5.0)
    text = client.get("/metrics").text
    assert 'qgjob_device_seconds_total{device="lab/e1",state="idle",target="emulator"} 3.0' \
        in text
    assert 'qgjob_target_idle_while_work_waited_seconds_total{target="emulator"} 3.0' in text
    assert 'qgjob_device_idle_while_work_waited_seconds_total{device="lab/e1",' in text
