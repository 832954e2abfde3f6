"""Scheduling quality in virtual time: the server's policy and three baselines on each example
trace (examples/traces/), the issue's goals checked, and the same goals over generated traces.

    python -m benchmarks.scheduling [--traces DIR] [--seeds 10] [--gantt docs/]

Prints the tables, writes benchmarks/results/scheduling.json, and with --gantt draws Gantt
charts (PNG) of the burst trace under the policy and under FIFO.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from pathlib import Path
from typing import Any

from benchmarks.common import at_least, command_line, print_table, write_result
from benchmarks.goals import baseline_events, goals
from qgjob.scheduler.registry import POLICY_NAMES, policy_named
from qgjob.sim.engine import Simulator
from qgjob.sim.generate import KINDS, generate
from qgjob.sim.metrics import Summary, summarize
from qgjob.sim.trace import Trace, load_trace, parse_trace

DEFAULT_TRACES = Path(__file__).resolve().parents[1] / "examples" / "traces"
"""The repository's example traces (one of each kind, `qgjob trace KIND --seed 1`); the
README's figures are theirs. `--traces DIR` runs on others."""


def run(trace: Trace, policy: str) -> tuple[Summary, list[dict[str, Any]], float]:
    """The policy's schedule of the trace: qgjob's as the server runs it, a baseline's as the
    goals weigh it (`benchmarks.goals.baseline_events`)."""
    started = time.perf_counter()
    events = (Simulator(trace, policy_named(policy)).run().events if policy == "qgjob"
              else baseline_events(trace, policy))
    elapsed = time.perf_counter() - started
    return summarize(trace, policy, events), events, elapsed


def _generated(args: tuple[str, int]) -> dict[str, Any]:
    kind, seed = args
    trace = parse_trace(generate(kind, seed))
    summaries = {policy: run(trace, policy)[0] for policy in ("qgjob", "fifo", "fifo-affinity")}
    checks = goals(kind, summaries["qgjob"], summaries["fifo"], summaries["fifo-affinity"])
    return {"kind": kind, "seed": seed, "met": all(c["met"] for c in checks), "goals": checks}


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="scheduling quality in virtual time")
    parser.add_argument("--traces", type=Path, default=DEFAULT_TRACES)
    parser.add_argument("--seeds", type=at_least(0), default=10,
                        help="generated traces per kind (0 to skip)")
    parser.add_argument("--gantt", type=Path, help="folder to draw Gantt charts into")
    return parser.parse_args(argv)


def main() -> None:
    args = arguments()

    rows, results, checks = [], [], []
    for path in sorted(args.traces.glob("*.json")):
        trace = load_trace(path)
        summaries: dict[str, Summary] = {}
        for policy in POLICY_NAMES:
            summary, events, elapsed = run(trace, policy)
            summaries[policy] = summary
            results.append({**summary.as_dict(), "simulated_in_seconds": round(elapsed, 3)})
            rows.append(_row(summary))
            if args.gantt is not None and path.stem == "burst" and policy in ("qgjob", "fifo"):
                from benchmarks.gantt import draw_gantt

                draw_gantt(trace, events, args.gantt / f"gantt-burst-{policy}.png",
                           f"burst trace, {policy} policy")
        if path.stem in KINDS:
            for check in goals(path.stem, summaries["qgjob"], summaries["fifo"],
                               summaries["fifo-affinity"]):
                checks.append({"trace": path.stem, **check})
    print(f"Policies on the traces in {args.traces} (virtual time; turnaround = a build's "
          "last finish minus its first submit)")
    print_table(["trace", "policy", "installs", "x min", "makespan", "x bound", "mean turn",
                 "p95 turn", "p95 by priority", "mean flow by org (min-max)"], rows)
    print(f"\nGoals on the traces in {args.traces}")
    print_table(["trace", "goal", "value", "limit", "met"],
                [[c["trace"], c["goal"], c["value"], c["limit"], "yes" if c["met"] else "NO"]
                 for c in checks])
    generated = _robustness(args.seeds)
    path = write_result("scheduling", {
        "command": command_line("benchmarks.scheduling"),
        "runs": results, "goals": checks, "generated": generated})
    print(f"\nwrote {path}")


def _row(s: Summary) -> list[Any]:
    flows = s.mean_flow_by_org.values()
    return [s.trace, s.policy, s.installs, f"{s.install_ratio:.2f}", f"{s.makespan:.0f}",
            f"{s.makespan_ratio:.3f}", f"{s.mean_turnaround:.0f}", f"{s.p95_turnaround:.0f}",
            " ".join(f"P{p}:{v:.0f}" for p, v in s.p95_turnaround_by_priority.items()),
            f"{min(flows):.0f}-{max(flows):.0f}" if flows else "-"]


def _robustness(seeds: int) -> list[dict[str, Any]]:
    if seeds <= 0:
        return []
    work = [(kind, seed) for kind in KINDS for seed in range(1, seeds + 1)]
    with multiprocessing.Pool() as pool:
        generated = pool.map(_generated, work)
    print(f"\nThe same goals on generated look-alike traces ({seeds} seeds per kind, "
          "qgjob.sim.generate)")
    table = []
    for kind in KINDS:
        mine = [g for g in generated if g["kind"] == kind]
        misses = [f"seed {g['seed']}: " + ", ".join(
            f"{c['goal']} {c['value']}" for c in g["goals"] if not c["met"])
            for g in mine if not g["met"]]
        table.append([kind, f"{sum(g['met'] for g in mine)}/{len(mine)}",
                      "; ".join(misses) if misses else "-"])
    print_table(["kind", "all goals met", "misses"], table)
    return generated


if __name__ == "__main__":
    main()
