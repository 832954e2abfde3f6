"""The scheduler judged on the family, not on one trace: many generated traces of each kind
(`qgjob.sim.generate`), the policy and the baselines on each in the simulator (the server's
own claim path; the baselines with ideal retries, `qgjob.scheduler.baselines.BASELINE_RETRY`),
the goals of issue 15 applied; then the same on fleets unlike the usual ones; then each policy
constant at half and at double its value.

    python -m benchmarks.sweep [--seeds 100] [--first 1] [--variant-seeds 10]
                               [--sensitivity-seeds 20] [--skip variants,sensitivity]

Prints the tables and writes benchmarks/results/sweep.json. A kind holds when at least 80 %
of its traces meet every goal and every median does.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

from benchmarks.common import command_line, print_table, seed_count, write_result
from benchmarks.goals import HOLDS_SHARE, baselines, goals
from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.sim.engine import Simulator
from qgjob.sim.generate import KINDS, generate
from qgjob.sim.metrics import Summary, summarize
from qgjob.sim.trace import Trace, parse_trace

HANDFUL = "a handful of jobs"
"""The variant of tiny workloads: the first six jobs of a trace's first two builds."""
FLEETS = {
    "installs x0.25": ("install", 0.25), "installs x4": ("install", 4.0),
    "tests x0.25": ("duration", 0.25), "tests x4": ("duration", 4.0),
    "fleet x0.5": ("fleet", 0.5), "fleet x2": ("fleet", 2.0),
    HANDFUL: ("handful", 6),
}
"""Fleets unlike the usual ones: other install times, test lengths, fleet sizes (steady's
arrivals scaled with the fleet, so its load stays the same), and tiny workloads. The sweep's
"other fleets" table runs each."""
VARIANTS = {**FLEETS, "no failures": ("outcomes", 0)}
"""... and what a trace's failures are worth: every attempt passes, for qgjob and the
baselines alike (`benchmarks.judged`, `benchmarks.hindsight`; not in the sweep's table, which
is about fleets)."""
TUNED = ("aging_seconds", "cut_in_levels", "starve_ratio", "grow_ratio", "lone_join_installs",
         "idle_join_tests", "quiet_tests", "last_drain_join", "batch_builds", "batch_chance",
         "stream_builds", "arriving_seconds", "arriving_installs", "urgent_join_share",
         "join_installs", "leave_installs", "batch_seconds", "max_batch", "stream_price_tests",
         "stream_backlog_tests", "install_budget_share", "install_budget_slack",
         "urgent_deadline_tests")


def varied(trace: dict[str, Any], variant: str | None) -> dict[str, Any]:
    if variant is None:
        return trace
    what, factor = VARIANTS[variant]
    trace = {**trace, "jobs": [dict(job) for job in trace["jobs"]]}
    if what == "install":
        trace["install_seconds"] = {t: s * factor for t, s in trace["install_seconds"].items()}
    elif what == "duration":
        for job in trace["jobs"]:
            job["duration"] = max(round(job["duration"] * factor, 3), 0.5)
    elif what == "fleet":
        by_target: dict[str, int] = {}
        for device in trace["devices"]:
            by_target[device["target"]] = by_target.get(device["target"], 0) + 1
        trace["devices"] = [{"id": f"{t}-{i}", "target": t} for t, n in by_target.items()
                            for i in range(1, max(1, round(n * factor)) + 1)]
        if trace["name"].startswith("steady"):
            for job in trace["jobs"]:
                job["submit_at"] = round(job["submit_at"] / factor, 3)
    elif what == "outcomes":
        for job in trace["jobs"]:
            job["outcomes"] = ["pass"]
    elif what == "handful":
        first = sorted({job["app_version_id"] for job in trace["jobs"]})[:2]
        trace["jobs"] = [j for j in trace["jobs"] if j["app_version_id"] in first][:int(factor)]
    return trace


_BASELINES: dict[tuple[str, int, str | None], dict[str, Summary]] = {}
"""Each worker's baseline runs, kept: they do not change with the policy's constants."""


def judge(args: tuple[str, int, str | None, dict[str, Any]]) -> dict[str, Any]:
    kind, seed, variant, knobs = args
    trace = parse_trace(varied(generate(kind, seed), variant))
    started = time.perf_counter()
    ours = summarize(trace, "qgjob", Simulator(trace, replace(FairAffinityPolicy(), **knobs))
                     .run().events)
    elapsed = time.perf_counter() - started
    base = _BASELINES.get((kind, seed, variant))
    if base is None:
        base = _BASELINES[(kind, seed, variant)] = baselines(trace)
    checks = goals(kind, ours, base["fifo"], base["fifo-affinity"])
    return {"kind": kind, "seed": seed, "variant": variant, "knobs": knobs,
            "met": all(c["met"] for c in checks), "goals": checks,
            "load": round(offered_load(trace), 3), "seconds": round(elapsed, 3)}


def offered_load(trace: Trace) -> float:
    """Test time the trace asks for (every attempt it needs) over the fleet's time while its
    jobs arrive: how busy a stream keeps the devices. 0 for a trace whose jobs all arrive at
    once (a burst has no arrival span)."""
    span = max(job.submit_at for job in trace.jobs) - min(job.submit_at for job in trace.jobs)
    if span <= 0 or not trace.devices:
        return 0.0
    work = sum(job.duration * job.attempts_needed(trace.max_attempts) for job in trace.jobs)
    return work / (len(trace.devices) * span)


LOAD_BANDS = ((0.0, 0.6), (0.6, 0.7), (0.7, float("inf")))
"""Offered-load bands for the steady kind's breakdown."""


def by_load(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steady traces by offered load: where the frontier between its install and turnaround
    goals lies (a stream that keeps the fleet half idle lets FIFO spread each build over the
    idle devices, without queueing, which half its installs cannot match)."""
    out = []
    for low, high in LOAD_BANDS:
        mine = [r for r in rows if low <= r["load"] < high]
        if mine:
            out.append({"load": f"{low:g}-{high:g}" if high != float("inf") else f">= {low:g}",
                        **summary_of(mine)})
    return out


def summary_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    names = list(dict.fromkeys(c["goal"] for row in rows for c in row["goals"]))
    per_goal = {}
    for name in names:
        checks = [c for row in rows for c in row["goals"] if c["goal"] == name]
        values = [c["value"] for c in checks]
        limit = checks[0]["limit"]
        per_goal[name] = {"median": round(statistics.median(values), 4),
                          "worst": round(max(values), 4), "limit": limit,
                          "met": sum(c["met"] for c in checks)}
    passed = sum(row["met"] for row in rows)
    holds = passed >= HOLDS_SHARE * len(rows) and all(
        g["median"] <= g["limit"] for g in per_goal.values())
    return {"traces": len(rows), "passed": passed, "holds": holds, "goals": per_goal}


def run_all(pool: Any, work: Sequence[tuple[str, int, str | None, dict[str, Any]]]
            ) -> list[dict[str, Any]]:
    return list(pool.imap(judge, work, chunksize=1))


def main() -> None:
    parser = argparse.ArgumentParser(description="the scheduler over many generated traces")
    parser.add_argument("--seeds", type=seed_count, default=100, help="traces per kind")
    parser.add_argument("--first", type=int, default=1, help="first seed")
    parser.add_argument("--variant-seeds", type=seed_count, default=10)
    parser.add_argument("--sensitivity-seeds", type=seed_count, default=20)
    parser.add_argument("--skip", default="", help="comma-separated: variants, sensitivity")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    seeds = range(args.first, args.first + args.seeds)
    result: dict[str, Any] = {"command": command_line("benchmarks.sweep")}
    with multiprocessing.Pool() as pool:
        rows = run_all(pool, [(k, s, None, {}) for k in KINDS for s in seeds])
        result["family"] = {k: summary_of([r for r in rows if r["kind"] == k]) for k in KINDS}
        print(f"The goals on {args.seeds} generated traces per kind (seeds {seeds.start}-"
              f"{seeds.stop - 1})")
        print_table(["kind", "traces meeting every goal", "holds", "goal", "median", "worst",
                     "limit", "met"], _family_rows(result["family"]))
        result["steady_by_load"] = by_load([r for r in rows if r["kind"] == "steady"])
        print("\nSteady traces by offered load (test time over the fleet's time while jobs "
              "arrive)")
        print_table(["load", "traces", "meet every goal", "medians"], [
            [band["load"], band["traces"], band["passed"], ", ".join(
                f"{name} {g['median']:.3f}" for name, g in band["goals"].items())]
            for band in result["steady_by_load"]])
        if "variants" not in skip:
            result["variants"] = _variants(pool, args)
        if "sensitivity" not in skip:
            result["sensitivity"] = _sensitivity(pool, args)
    path = write_result("sweep", result)
    print(f"\nwrote {path}")


def _family_rows(family: dict[str, Any]) -> list[list[Any]]:
    table = []
    for kind, s in family.items():
        for index, (name, g) in enumerate(s["goals"].items()):
            head = [kind, f"{s['passed']}/{s['traces']}", "yes" if s["holds"] else "no"] \
                if index == 0 else ["", "", ""]
            table.append([*head, name, f"{g['median']:.3f}", f"{g['worst']:.3f}",
                          g["limit"], f"{g['met']}/{s['traces']}"])
    return table


def _variants(pool: Any, args: argparse.Namespace) -> dict[str, Any]:
    seeds = range(args.first, args.first + args.variant_seeds)
    work: list[tuple[str, int, str | None, dict[str, Any]]] = [
        (k, s, v, {}) for v in FLEETS for k in KINDS for s in seeds]
    rows = run_all(pool, work)
    out: dict[str, Any] = {}
    table = []
    for variant in FLEETS:
        out[variant] = {}
        for kind in KINDS:
            mine = [r for r in rows if r["variant"] == variant and r["kind"] == kind]
            s = out[variant][kind] = summary_of(mine)
            medians = ", ".join(f"{name} {g['median']:.3f}" for name, g in s["goals"].items())
            table.append([variant, kind, f"{s['passed']}/{s['traces']}", medians])
    print(f"\nOther fleets ({args.variant_seeds} traces per kind and variant)")
    print_table(["variant", "kind", "meet every goal", "medians"], table)
    return out


def _sensitivity(pool: Any, args: argparse.Namespace) -> dict[str, Any]:
    seeds = range(args.first, args.first + args.sensitivity_seeds)
    defaults = FairAffinityPolicy()
    settings: list[tuple[str, dict[str, Any]]] = [("defaults", {})]
    for name in TUNED:
        value = getattr(defaults, name)
        kind = next(f.type for f in fields(defaults) if f.name == name)
        for factor in (0.5, 2.0):
            changed = value * factor
            settings.append((f"{name} x{factor:g}",
                             {name: max(1, round(changed)) if kind == "int" else changed}))
    work = [(k, s, None, knobs) for _, knobs in settings for k in KINDS for s in seeds]
    rows = run_all(pool, work)
    out: dict[str, Any] = {}
    table = []
    for label, knobs in settings:
        mine = [r for r in rows if r["knobs"] == knobs]
        out[label] = {"knobs": knobs, **{k: summary_of([r for r in mine if r["kind"] == k])
                                         for k in KINDS}}
        cells = []
        for kind in KINDS:
            s = out[label][kind]
            cells.append(f"{s['passed']}/{s['traces']} " + " ".join(
                f"{g['median']:.3f}" for g in s["goals"].values()))
        table.append([label, *cells])
    print(f"\nSensitivity: each constant at half and double ({args.sensitivity_seeds} traces "
          "per kind; traces meeting every goal, then the median of each goal in the order of "
          "the first table)")
    print_table(["setting", *KINDS], table)
    return out


if __name__ == "__main__":
    main()
