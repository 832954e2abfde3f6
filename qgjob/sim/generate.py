"""Synthetic traces of the four shared kinds (burst, steady, priority, flood), drawn from a
seed: the same structure as ../shared/traces/, other counts, sizes, durations and arrival
times. The benchmarks judge the policy on many of them, so it is tuned to behaviour rather
than to one file."""

from __future__ import annotations

import math
import random
from typing import Any

from qgjob.scheduler.views import DEFAULT_INSTALL_SECONDS

KINDS = ("burst", "steady", "priority", "flood")
_FEATURES = ("login", "signup", "onboarding", "checkout", "cart", "search", "profile",
             "settings", "payments", "chat", "feed", "notifications")


class _Builder:
    def __init__(self, kind: str, seed: int) -> None:
        self.rng = random.Random(f"{kind}-{seed}")
        self.kind = kind
        self.seed = seed
        self.jobs: list[dict[str, Any]] = []
        self.catalog: dict[tuple[str, str], float] = {}
        self.tests = [f"tests/{feature}{'' if n == 0 else f'_{n}'}.spec.js"
                      for feature in _FEATURES for n in range(4)]

    def devices(self, counts: dict[str, int]) -> list[dict[str, str]]:
        return [{"id": f"{target}-{i}", "target": target}
                for target, count in counts.items() for i in range(1, count + 1)]

    def mean_duration(self, test: str, target: str) -> float:
        key = (test, target)
        if key not in self.catalog:
            self.catalog[key] = min(max(self.rng.lognormvariate(math.log(33), 0.45), 5.0), 170.0)
        return self.catalog[key]

    def build(self, org: str, app: str, target: str, size: int, priority: int,
              submit_at: float, spread: float = 0.0, spread_cv: float = 0.3) -> None:
        tests = self.rng.sample(self.tests, min(size, len(self.tests)))
        while len(tests) < size:
            tests.append(self.rng.choice(self.tests))
        for test in tests:
            duration = self.mean_duration(test, target) * self.rng.lognormvariate(0, spread_cv)
            roll = self.rng.random()
            outcomes = ["pass"] if roll < 0.89 else ["fail", "pass"] if roll < 0.97 else \
                ["fail", "fail", "fail"]
            self.jobs.append({
                "id": f"j{len(self.jobs) + 1:05d}", "org_id": org, "app_version_id": app,
                "test_path": test, "target": target, "priority": priority,
                "submit_at": round(submit_at + self.rng.uniform(0, spread), 3),
                "duration": round(max(duration, 2.0), 3), "outcomes": outcomes,
            })

    def trace(self, devices: list[dict[str, str]]) -> dict[str, Any]:
        self.jobs.sort(key=lambda j: (j["submit_at"], j["id"]))
        return {"name": f"{self.kind}-gen{self.seed}",
                "install_seconds": dict(DEFAULT_INSTALL_SECONDS), "max_attempts": 3,
                "devices": devices, "jobs": self.jobs}


def generate(kind: str, seed: int) -> dict[str, Any]:
    """A trace dict in the shared format."""
    if kind not in KINDS:
        raise ValueError(f"unknown trace kind {kind!r}; choose one of {', '.join(KINDS)}")
    b = _Builder(kind, seed)
    return {"burst": _burst, "steady": _steady, "priority": _priority, "flood": _flood}[kind](b)


def _burst(b: _Builder) -> dict[str, Any]:
    devices = b.devices({"emulator": b.rng.randint(5, 7), "device": 2,
                         "browserstack": b.rng.randint(3, 5)})
    targets = ["emulator"] * b.rng.randint(6, 9) + ["device"] * b.rng.randint(4, 6) + \
        ["browserstack"] * b.rng.randint(2, 3)
    for index, target in enumerate(targets):
        org = f"org{index % 5 + 1}"
        b.build(org, f"{org}-build{index + 1}", target, b.rng.randint(11, 42), 3,
                submit_at=b.rng.uniform(0, 5))
    return b.trace(devices)


def _steady(b: _Builder) -> dict[str, Any]:
    devices = b.devices({"emulator": 8, "device": 2, "browserstack": 4})
    now, index = b.rng.uniform(5, 30), 0
    horizon = b.rng.uniform(6600, 7800)
    while now < horizon:
        index += 1
        org = f"org{b.rng.randint(1, 8)}"
        target = b.rng.choices(["emulator", "device", "browserstack"], [66, 19, 15])[0]
        priority = b.rng.choices([1, 2, 3, 4], [10, 20, 52, 18])[0]
        b.build(org, f"{org}-build{index}", target, b.rng.randint(5, 30), priority, now,
                spread=3.0, spread_cv=0.4)
        now += b.rng.expovariate(1 / 65.0)
    return b.trace(devices)


def _priority(b: _Builder) -> dict[str, Any]:
    devices = b.devices({"emulator": 6})
    nightly = b.rng.randint(5, 7)
    for n in range(1, nightly + 1):
        b.build("orgA", f"orgA-nightly{n}", "emulator", b.rng.randint(50, 70), 1, 0.0,
                spread_cv=0.15)
    start, gap = b.rng.uniform(200, 400), b.rng.uniform(360, 480)
    for n in range(b.rng.randint(7, 9)):
        org = ("orgB", "orgC", "orgD")[n % 3]
        b.build(org, f"{org}-hotfix{n + 1}", "emulator", b.rng.randint(5, 8), 5,
                start + n * gap, spread_cv=0.15)
    return b.trace(devices)


def _flood(b: _Builder) -> dict[str, Any]:
    devices = b.devices({"emulator": 8})
    for n in range(1, b.rng.randint(18, 22) + 1):
        b.build("bigco", f"bigco-build{n}", "emulator", b.rng.randint(45, 55), 3, 0.0,
                spread_cv=0.2)
    start, gap = b.rng.uniform(40, 80), b.rng.uniform(70, 110)
    for n in range(1, 7):
        b.build(f"small{n}", f"small{n}-build1", "emulator", b.rng.randint(10, 14), 3,
                start + (n - 1) * gap, spread_cv=0.2)
    return b.trace(devices)
