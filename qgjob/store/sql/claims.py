"""The claim path: building the policy's view of a target from the tables, and
keeping the duration history the views price work with. Each function runs inside the
caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence

from qgjob.scheduler.durations import DurationStats, TargetPrior, learn
from qgjob.scheduler.outlook import left_of
from qgjob.scheduler.views import (
    ClaimContext,
    DeviceView,
    FleetRules,
    GroupWork,
    JobView,
    LaneView,
    OrgShare,
)
from qgjob.store.rows import Row
from qgjob.store.sql.database import Tx

CANDIDATES = 64
"""How many of the chosen lane's next jobs the policy sees when it picks a batch."""


def claim_context(
    conn: Tx, device: Row, holds: str | None,
    now: float, rules: FleetRules,
) -> ClaimContext:
    """What the policy sees when `device` asks for work (the device's own batches excluded)."""
    target = device["target"]
    lanes = tuple(
        LaneView(
            group_key=r["group_key"], org_id=r["org_id"], app_version_id=r["app_version_id"],
            target=r["target"],
            queued_by_priority=(r["queued_p1"], r["queued_p2"], r["queued_p3"],
                                r["queued_p4"], r["queued_p5"]),
            head_submitted_at=r["head_submitted_at"],
            oldest_submitted_at=r["oldest_submitted_at"],
            expected_seconds=max(r["expected_seconds"], 0.0),
        )
        for r in sorted(conn.run("ready_lanes", {"target": target}),
                        key=lambda r: (r["group_key"], r["org_id"]))
    )
    work, per_group, per_org = _work_in_progress(conn, target, device["id"], now)
    orgs: dict[str, OrgShare] = {org: rules.share(org, n) for org, n in per_org.items()}
    for lane in lanes:
        orgs.setdefault(lane.org_id, rules.share(lane.org_id, 0))
    retry_due = {r["app_version_id"]: float(r["retry_at"])
                 for r in conn.run("retries_due", {"target": target})}
    counts = conn.run("count_target_devices", {"target": target}).fetchone()
    measured = conn.run("recent_install_seconds", {"target": target}).fetchone()["seconds"]
    return ClaimContext(
        device=DeviceView(device["id"], target, holds),
        lanes=lanes,
        devices_per_group=per_group,
        orgs=orgs,
        target_devices=int(counts["online"]),
        idle_devices=int(counts["idle"]),
        install_seconds=float(measured) if measured is not None
        else rules.install_seconds.get(target, 30.0),
        now=now,
        default_weight=rules.default_weight,
        work=work,
        retry_due=retry_due,
    )


def _work_in_progress(conn: Tx, target: str, device_id: str, now: float
                      ) -> tuple[dict[str, GroupWork], dict[str, int], dict[str, int]]:
    """What the other devices of the target hold, per group: devices and expected seconds
    left (summed in one order, so every store and the simulator add the same numbers); and
    devices per group and per org."""
    rows = sorted(conn.run("working_leases", {"target": target, "now": now,
                                              "device_id": device_id}),
                  key=lambda r: (r["lease_id"], r["job_id"]))
    leases: dict[str, tuple[str, str, str]] = {}
    held: dict[str, float] = {}
    for r in rows:
        leases[r["lease_id"]] = (r["group_key"], r["org_id"], r["app_version_id"])
        held[r["group_key"]] = held.get(r["group_key"], 0.0) + left_of(
            r["state"], r["expected_seconds"], r["started_at"], now)
    per_group: dict[str, int] = {}
    per_org: dict[str, int] = {}
    apps: dict[str, str] = {}
    for group_key, org_id, app in leases.values():
        per_group[group_key] = per_group.get(group_key, 0) + 1
        per_org[org_id] = per_org.get(org_id, 0) + 1
        apps[group_key] = app
    work = {group: GroupWork(apps[group], per_group[group], held[group]) for group in per_group}
    return work, per_group, per_org


def lane_candidates(conn: Tx, lane: LaneView) -> list[JobView]:
    rows = conn.run("lane_candidates", {"group_key": lane.group_key,
                                               "org_id": lane.org_id, "limit": CANDIDATES})
    return [JobView(r["id"], r["priority"], r["created_at"], r["expected_seconds"],
                    r["attempts"], r["last_device_id"]) for r in rows]


def assign(
    conn: Tx, job_ids: Sequence[str], lease_id: str, device: Row,
    now: float,
) -> list[Row]:
    return conn.run("assign_jobs", {
        "job_ids": conn.array(list(job_ids)), "lease_id": lease_id,
        "agent_name": device["agent_name"], "device_id": device["id"], "now": now,
    }).fetchall()


def learn_duration(
    conn: Tx, org_id: str, test_path: str, target: str, seconds: float
) -> None:
    """Fold a finished attempt into the history; re-price the test's queued jobs when its
    estimate moved enough to matter."""
    test = {"org_id": org_id, "test_path": test_path, "target": target}
    row = conn.run("test_duration", test).fetchone()
    stats = (DurationStats(row["samples"], row["mean_seconds"], row["priced_seconds"])
             if row else None)
    new_stats, new_prior, reprice = learn(stats, target_prior(conn, target), seconds)
    conn.run("save_test_duration", {
        **test, "samples": new_stats.samples,
        "mean_seconds": new_stats.mean_seconds, "priced_seconds": new_stats.priced_seconds})
    conn.run("save_target_duration", {
        "target": target, "samples": new_prior.samples,
        "total_seconds": new_prior.total_seconds})
    if reprice is not None:
        conn.run("reprice_queued_test", {**test, "seconds": reprice})


def target_prior(conn: Tx, target: str) -> TargetPrior:
    """What all tests on a target took so far (new tests are priced with its mean)."""
    row = conn.run("target_duration", {"target": target}).fetchone()
    return TargetPrior(row["samples"], row["total_seconds"]) if row else TargetPrior()
