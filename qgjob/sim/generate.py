"""Synthetic traces of the four workload kinds, drawn from a seed, so the scheduler is judged on
a family of traces rather than tuned to one file:

- burst: five orgs each push one to three builds within five seconds; each build runs part of
  its org's suite on one or two targets (6 emulators, 2 real devices, 4 BrowserStack slots);
- steady: builds of eight orgs arrive as a Poisson stream (one every 75 s on average) for two
  hours, each on one target, priorities 1-5 (mostly 3); 8 emulators, 2 devices, 4 slots;
- priority: six nightly builds of 60 tests at priority 1 at once, then eight six-test hotfix
  suites at priority 5 every seven minutes; 6 emulators;
- flood: one org queues twenty builds of fifty tests at once; six small orgs submit a
  twelve-test suite each in the next ten minutes; 8 emulators.

Test durations are lognormal around 35 s (3 s to 10 min), each job within 12 % of its test's
mean; 6 % of jobs fail once then pass, 2 % fail every attempt. Install times: 20 s on an
emulator, 45 s on a device, 60 s on BrowserStack.

Beside them, `brief`: the original brief's five-job grouping example, the same whatever the
seed. `qgjob trace KIND --seed N` writes any of them; examples/traces/ holds one of each.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

from qgjob.domain.values import TARGETS
from qgjob.scheduler.views import DEFAULT_INSTALL_SECONDS

KINDS = ("burst", "steady", "priority", "flood")
"""The drawn kinds, each a family of traces (one per seed)."""
EXAMPLES = ("brief",)
"""Fixed traces, the same whatever the seed."""
_FEATURES = ("login", "signup", "onboarding", "checkout", "search", "profile", "settings",
             "cart", "payments", "notifications", "chat", "feed", "upload", "share", "logout")
MAX_ATTEMPTS = 3


class _Suite:
    """An org's test files, each with its typical duration."""

    def __init__(self, rng: random.Random, size: int) -> None:
        self.tests: list[tuple[str, float]] = []
        for n in range(size):
            feature = _FEATURES[n % len(_FEATURES)]
            path = f"tests/{feature}{'' if n < len(_FEATURES) else f'_{n // len(_FEATURES)}'}" \
                   ".spec.js"
            mean = rng.lognormvariate(math.log(35.0), 0.6)
            self.tests.append((path, min(max(mean, 3.0), 600.0)))


class _Builder:
    def __init__(self, kind: str, seed: int) -> None:
        self.rng = random.Random(f"{kind}-{seed}")
        self.kind, self.seed = kind, seed
        self.jobs: list[dict[str, Any]] = []

    def outcomes(self) -> list[str]:
        roll = self.rng.random()
        if roll < 0.02:
            return ["fail"] * MAX_ATTEMPTS
        return ["fail", "pass"] if roll < 0.08 else ["pass"]

    def job(self, org: str, app: str, test: tuple[str, float], target: str, priority: int,
            at: float) -> None:
        path, mean = test
        self.jobs.append({
            "id": f"j{len(self.jobs) + 1:05d}", "org_id": org, "app_version_id": app,
            "test_path": path, "target": target, "priority": priority,
            "submit_at": round(at, 3),
            "duration": round(max(1.0, self.rng.gauss(mean, 0.12 * mean)), 3),
            "outcomes": self.outcomes()})

    def trace(self, counts: dict[str, int]) -> dict[str, Any]:
        self.jobs.sort(key=lambda j: (j["submit_at"], j["id"]))
        devices = [{"id": f"{target}-{i}", "target": target}
                   for target, count in counts.items() for i in range(1, count + 1)]
        return {"name": f"{self.kind}-gen{self.seed}",
                "install_seconds": dict(DEFAULT_INSTALL_SECONDS), "max_attempts": MAX_ATTEMPTS,
                "devices": devices, "jobs": self.jobs}


def generate(kind: str, seed: int) -> dict[str, Any]:
    """A trace dict in the format `qgjob simulate` reads."""
    if kind == "brief":
        return brief_example()
    if kind not in KINDS:
        raise ValueError(f"unknown trace kind {kind!r}; choose one of "
                         f"{', '.join(KINDS + EXAMPLES)}")
    b = _Builder(kind, seed)
    return {"burst": _burst, "steady": _steady, "priority": _priority, "flood": _flood}[kind](b)


def brief_example() -> dict[str, Any]:
    """The brief's five submits at once on two emulators and a real device, 5 s tests that
    pass: jobs 1, 2 and 5 share ('xyz123', 'emulator') although two orgs sent them, so the
    best schedule installs three times."""
    submits = [("qualgent", "xyz123", "tests/onboarding.spec.js", "emulator"),
               ("qualgent", "xyz123", "tests/login.spec.js", "emulator"),
               ("qualgent", "xyz123", "tests/onboarding.spec.js", "device"),
               ("qualgent", "xyz999", "tests/onboarding.spec.js", "emulator"),
               ("acme", "xyz123", "tests/onboarding.spec.js", "emulator")]
    jobs = [{"id": f"j{n:05d}", "org_id": org, "app_version_id": app, "test_path": test,
             "target": target, "priority": 3, "submit_at": 0.0, "duration": 5.0,
             "outcomes": ["pass"]}
            for n, (org, app, test, target) in enumerate(submits, start=1)]
    devices = [{"id": "emulator-1", "target": "emulator"},
               {"id": "emulator-2", "target": "emulator"}, {"id": "device-1", "target": "device"}]
    return {"name": "brief", "install_seconds": dict(DEFAULT_INSTALL_SECONDS),
            "max_attempts": MAX_ATTEMPTS, "devices": devices, "jobs": jobs}


def trace_json(trace: dict[str, Any]) -> str:
    """A trace as a file holds it: one device and one job per line, so a diff of two traces
    reads job by job."""
    def rows(items: list[dict[str, Any]]) -> str:
        return "[\n" + ",\n".join(f"  {json.dumps(item)}" for item in items) + "\n ]"

    head = {k: v for k, v in trace.items() if k not in ("devices", "jobs")}
    fields = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in head.items()]
    fields += [f' "devices": {rows(trace["devices"])}', f' "jobs": {rows(trace["jobs"])}']
    return "{\n" + ",\n".join(fields) + "\n}\n"


def _burst(b: _Builder) -> dict[str, Any]:
    for o in range(1, 6):
        org = f"org{o}"
        suite = _Suite(b.rng, b.rng.randint(15, 45))
        for n in range(1, b.rng.randint(1, 3) + 1):
            for target in b.rng.sample(TARGETS, b.rng.choice([1, 1, 2])):
                size = b.rng.randint(8, len(suite.tests))
                for test in b.rng.sample(suite.tests, size):
                    b.job(org, f"{org}-build{n}", test, target, 3, b.rng.uniform(0, 5))
    return b.trace({"emulator": 6, "device": 2, "browserstack": 4})


def _steady(b: _Builder) -> dict[str, Any]:
    suites = [(f"org{o}", _Suite(b.rng, b.rng.randint(10, 40))) for o in range(1, 9)]
    now, build = 0.0, 0
    while now < 7200.0:
        now += b.rng.expovariate(1 / 75.0)
        org, suite = b.rng.choice(suites)
        build += 1
        target = b.rng.choices(["emulator", "device", "browserstack"], [60, 15, 25])[0]
        priority = b.rng.choices([1, 2, 3, 4, 5], [15, 20, 45, 15, 5])[0]
        size = b.rng.randint(5, len(suite.tests))
        for test in b.rng.sample(suite.tests, size):
            b.job(org, f"{org}-b{build}", test, target, priority, now + b.rng.uniform(0, 3))
    return b.trace({"emulator": 8, "device": 2, "browserstack": 4})


def _priority(b: _Builder) -> dict[str, Any]:
    nightly = _Suite(b.rng, 60)
    for n in range(1, 7):
        for test in nightly.tests:
            b.job("orgA", f"orgA-nightly{n}", test, "emulator", 1, 0.0)
    for k in range(8):
        org = f"org{'BCD'[k % 3]}"
        for test in _Suite(b.rng, 6).tests:
            b.job(org, f"{org}-hotfix{k + 1}", test, "emulator", 5, 300.0 + k * 420.0)
    return b.trace({"emulator": 6})


def _flood(b: _Builder) -> dict[str, Any]:
    flood = _Suite(b.rng, 50)
    for n in range(1, 21):
        for test in flood.tests:
            b.job("bigco", f"bigco-v{n}", test, "emulator", 3, 0.0)
    for o in range(1, 7):
        for test in _Suite(b.rng, 12).tests:
            b.job(f"small{o}", f"small{o}-v1", test, "emulator", 3, 60.0 + (o - 1) * 90.0)
    return b.trace({"emulator": 8})
