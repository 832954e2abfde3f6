"""Prometheus metrics. Counters and histograms are updated where things happen (claims,
attempt reports, installs); gauges are read from the store when Prometheus scrapes, so every
replica reports the same truth. Each app has its own registry: no module-level state, and
tests can build as many apps as they like."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from qgjob.domain.models import Agent, DeviceUsage
from qgjob.domain.values import PRIORITIES, TARGETS
from qgjob.store.base import AgentStore, HistoryStore, JobStore

log = logging.getLogger("qgjob.server")

CONTENT_TYPE = CONTENT_TYPE_LATEST
CLAIM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
ATTEMPT_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0)
INSTALL_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)



class GaugeSource(JobStore, HistoryStore, AgentStore, Protocol):
    """What the gauges read: queue counts, job states and the fleet."""

class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._claim_seconds = Histogram(
            "qgjob_claim_seconds",
            "Time the store took to choose and assign a batch for a device asking for work",
            ["target", "result"], buckets=CLAIM_BUCKETS, registry=self.registry)
        self._attempt_seconds = Histogram(
            "qgjob_attempt_duration_seconds",
            "How long reported test attempts ran, by how they ended",
            ["target", "outcome"], buckets=ATTEMPT_BUCKETS, registry=self.registry)
        self._installs = Counter(
            "qgjob_installs", "App installs reported by agents",
            ["target", "ok"], registry=self.registry)
        self._install_seconds = Histogram(
            "qgjob_install_duration_seconds", "How long app installs took",
            ["target"], buckets=INSTALL_BUCKETS, registry=self.registry)
        self._gauges: StoreGauges | None = None

    def claimed(self, target: str, seconds: float, got_batch: bool) -> None:
        result = "batch" if got_batch else "empty"
        self._claim_seconds.labels(target, result).observe(seconds)

    def attempt_finished(self, target: str, outcome: str, seconds: float) -> None:
        self._attempt_seconds.labels(target, outcome).observe(max(seconds, 0.0))

    def install_recorded(self, target: str, ok: bool, seconds: float) -> None:
        self._installs.labels(target, "true" if ok else "false").inc()
        if ok:
            self._install_seconds.labels(target).observe(seconds)

    def watch(self, store: GaugeSource) -> None:
        """Report the store's gauges from now on (the app calls this once its store is open)."""
        self.unwatch()
        self._gauges = StoreGauges(store)
        self.registry.register(self._gauges)

    def unwatch(self) -> None:
        if self._gauges is not None:
            self.registry.unregister(self._gauges)
            self._gauges = None

    def exposition(self) -> bytes:
        """The text format; reads the store, so call it from a worker thread."""
        return bytes(generate_latest(self.registry))


class StoreGauges(Collector):
    """Queue depth, jobs, agents and devices, read from the store at scrape time."""

    def __init__(self, store: GaugeSource) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("qgjob_store_up", "1 when the store answered this scrape")
        try:
            families = [self._queue(), self._jobs(), *self._fleet()]
        except Exception:
            log.exception("metrics: the store did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _queue(self) -> GaugeMetricFamily:
        depth = GaugeMetricFamily(
            "qgjob_queue_depth", "Jobs waiting for a device (queued, in a batch not started "
            "yet, or waiting to retry)", labels=["target", "priority"])
        counts: dict[tuple[str, int], int] = {(t, p): 0 for t in TARGETS for p in PRIORITIES}
        for row in self.store.queue_counts():
            key = (row.target, row.priority)
            counts[key] = counts.get(key, 0) + row.queued
        for (target, priority), queued in sorted(counts.items()):
            depth.add_metric([target, str(priority)], queued)
        return depth

    def _jobs(self) -> GaugeMetricFamily:
        jobs = GaugeMetricFamily(
            "qgjob_jobs", "Jobs by public status and stored state", labels=["status", "state"])
        for state, count in self.store.state_counts().items():
            jobs.add_metric([state.public, state.value], count)
        return jobs

    def _fleet(self) -> list[Metric]:
        agents = GaugeMetricFamily("qgjob_agents", "Agents by state", labels=["state"])
        devices = GaugeMetricFamily(
            "qgjob_devices", "Devices by target and state", labels=["target", "state"])
        agent_states: dict[str, int] = {"online": 0, "offline": 0}
        device_states: dict[tuple[str, str], int] = {}
        listed = self.store.list_agents()
        for agent in listed:
            agent_states[agent.state] = agent_states.get(agent.state, 0) + 1
            for device in agent.devices:
                key = (device.target, device.state)
                device_states[key] = device_states.get(key, 0) + 1
        for state, count in sorted(agent_states.items()):
            agents.add_metric([state], count)
        for (target, state), count in sorted(device_states.items()):
            devices.add_metric([target, state], count)
        return [agents, devices, *utilisation(listed)]


def utilisation(listed: list[Agent]) -> list[Metric]:
    """Device time by state, per device and per target (shares: `rate()` of one state over
    the sum), idle time while work waited (scheduling waste), and the fleet out of
    rotation."""
    per_device = CounterMetricFamily(
        "qgjob_device_seconds", "Seconds a device spent busy, installing or idle while its "
        "agent was online", labels=["device", "target", "state"])
    per_target = CounterMetricFamily(
        "qgjob_target_device_seconds", "Device seconds of a target busy, installing or idle",
        labels=["target", "state"])
    waited = CounterMetricFamily(
        "qgjob_device_idle_while_work_waited_seconds", "Seconds a device in rotation sat idle "
        "while its target had queued work", labels=["device", "target"])
    target_waited = CounterMetricFamily(
        "qgjob_target_idle_while_work_waited_seconds", "Idle device seconds of a target while "
        "it had queued work", labels=["target"])
    resting = GaugeMetricFamily(
        "qgjob_devices_out_of_rotation", "Devices taking no work: out of rotation after "
        "repeated failures, or on a draining agent", labels=["target", "reason"])
    totals: dict[str, DeviceUsage] = {}
    out: dict[tuple[str, str], int] = {}
    for agent in listed:
        for d in agent.devices:
            usage = d.usage
            for state, seconds in (("busy", usage.busy_seconds),
                                   ("installing", usage.installing_seconds),
                                   ("idle", usage.idle_seconds)):
                per_device.add_metric([d.device_id, d.target, state], seconds)
            waited.add_metric([d.device_id, d.target], usage.idle_waiting_seconds)
            totals[d.target] = totals.get(d.target, DeviceUsage()) + usage
            reason = "failures" if d.disabled_reason else \
                "draining" if agent.draining_since is not None else None
            if reason is not None:
                out[(d.target, reason)] = out.get((d.target, reason), 0) + 1
    for target, usage in sorted(totals.items()):
        for state, seconds in (("busy", usage.busy_seconds),
                               ("installing", usage.installing_seconds),
                               ("idle", usage.idle_seconds)):
            per_target.add_metric([target, state], seconds)
        target_waited.add_metric([target], usage.idle_waiting_seconds)
    for (target, reason), count in sorted(out.items()):
        resting.add_metric([target, reason], count)
    return [per_device, per_target, waited, target_waited, resting]

