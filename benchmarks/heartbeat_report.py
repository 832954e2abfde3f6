"""The heartbeat benchmark's figures from what its fleet saw, and its table."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import TYPE_CHECKING, Any

from benchmarks.common import percentile, print_table

if TYPE_CHECKING:
    from benchmarks.heartbeat_scale import Tally

GENERATOR_BUSY = 0.9
"""A load generator past this share of its one core could not have sent more."""
LOOP_LAG_MS = 100.0
"""Nor could one whose event loop woke this late (p99) from a 50 ms sleep."""


def summary(args: argparse.Namespace, interval: float, lease_seconds: float, tally: Tally,
            seen: dict[str, Any], states: Counter[str], offline_logged: int) -> dict[str, Any]:
    window = seen["seconds"]
    lag_p99 = percentile(tally.lag_ms, 99)
    generator_cpu = seen["generator_cpu_share_of_a_core"]
    return {
        "agents": args.agents, "devices": args.agents * args.devices_per_agent,
        "replicas": args.replicas, "heartbeat_seconds": interval,
        "lease_seconds": lease_seconds, "window_seconds": round(window, 1),
        "heartbeats": {
            "offered_per_s": args.agents / interval,
            "held_per_s": tally.heartbeats / window,
            "answered": tally.heartbeats,
            "p50_ms": percentile(tally.heartbeat_ms, 50),
            "p99_ms": percentile(tally.heartbeat_ms, 99),
            "max_ms": max(tally.heartbeat_ms, default=float("nan")),
            "late": tally.late, "failed": dict(tally.failures), "unknown": tally.unknown},
        "claims": {
            "per_s": len(tally.claim_ms) / window, "count": len(tally.claim_ms),
            "empty": tally.claims_empty, "no_idle_device": tally.no_idle_device,
            "p50_ms": percentile(tally.claim_ms, 50), "p99_ms": percentile(tally.claim_ms, 99),
            "start_p99_ms": percentile(tally.start_ms, 99)},
        "jobs": {"test_seconds": args.test_seconds, "passed": tally.passed,
                 "lease_lost": tally.lease_lost},
        "long_polls": {"held": args.long_polls, "answered_empty_per_s": tally.polls_empty / window,
                       "answered_early": tally.polls_early,
                       "answered_with_work": tally.polls_with_work},
        "agents_at_end": dict(states), "agents_marked_offline_logged": offline_logged,
        "processes": seen,
        "generator": {
            "loop_lag_p50_ms": percentile(tally.lag_ms, 50), "loop_lag_p99_ms": lag_p99,
            "bottleneck": generator_cpu >= GENERATOR_BUSY or lag_p99 > LOOP_LAG_MS},
    }


def print_report(result: dict[str, Any]) -> None:
    beats, claims, jobs = result["heartbeats"], result["claims"], result["jobs"]
    seen, generator = result["processes"], result["generator"]
    online = result["agents_at_end"].get("online", 0)
    rows: list[list[Any]] = [
        [f"heartbeats/s offered ({result['agents']:,} agents, every "
         f"{result['heartbeat_seconds']:g} s)", f"{beats['offered_per_s']:,.1f}"],
        ["heartbeats/s held (answered 200, known)", f"{beats['held_per_s']:,.1f}"],
        ["heartbeat latency p50 / p99 / max, ms",
         f"{beats['p50_ms']:.1f} / {beats['p99_ms']:.1f} / {beats['max_ms']:.0f}"],
        ["heartbeats late (> one interval) / failed / unknown session",
         f"{beats['late']} / {sum(beats['failed'].values())} / {beats['unknown']}"],
        [f"claims/s (immediate work) p50 / p99 ms, {claims['count']:,} claims",
         f"{claims['per_s']:.1f}: {claims['p50_ms']:.1f} / {claims['p99_ms']:.1f}"],
        ["start p99 ms", f"{claims['start_p99_ms']:.1f}"],
        [f"jobs held {jobs['test_seconds']:g} s (lease {result['lease_seconds']:g} s): "
         "passed / lease lost", f"{jobs['passed']} / {jobs['lease_lost']}"],
        ["agents online at the end / marked offline (server logs)",
         f"{online:,} of {result['agents']:,} / {result['agents_marked_offline_logged']}"]]
    polls = result.get("long_polls", {"held": 0})
    if polls["held"]:
        rows.append([f"long-polls held by devices without work ({polls['held']:,}): answered "
                     "empty/s, of them early", f"{polls['answered_empty_per_s']:.1f}, "
                     f"{polls['answered_early']}"])
    for index, replica in enumerate(seen["replicas"]):
        rows.append([f"replica {index + 1}: CPU (share of one core), PostgreSQL connections "
                     "max / mean", f"{replica['cpu_share_of_a_core']:.0%}, "
                     f"{replica['postgres_connections_max']} / "
                     f"{replica['postgres_connections_mean']:.1f}"])
    rows += [
        ["PostgreSQL CPU (all its processes, share of one core)",
         f"{seen['postgres_cpu_share_of_a_core']:.0%}"],
        ["load generator CPU (of its one core), event-loop lag p50 / p99 ms",
         f"{seen['generator_cpu_share_of_a_core']:.0%}, {generator['loop_lag_p50_ms']:.1f} / "
         f"{generator['loop_lag_p99_ms']:.1f}"],
        ["machine busy (all cores); of which other processes, share of one core",
         f"{seen['machine_busy_share']:.0%}; {others(seen):.0%}"],
        ["load generator the bottleneck?", "yes" if generator["bottleneck"] else "no"]]
    print(f"Heartbeats at scale: {result['devices']:,} devices on {result['agents']:,} agents, "
          f"{result['replicas']} replicas on PostgreSQL, {result['window_seconds']:g} s measured")
    print_table(["measure", "value"], rows)


def others(seen: dict[str, Any]) -> float:
    """CPU the machine spent outside the benchmark's processes (other work sharing it)."""
    ours = (sum(r["cpu_share_of_a_core"] for r in seen["replicas"])
            + seen["postgres_cpu_share_of_a_core"] + seen["generator_cpu_share_of_a_core"])
    return max(0.0, float(seen["machine_busy_share"] * seen["cores"] - ours))
