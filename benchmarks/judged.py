"""The scheduling judge's own instruments around this repository's simulator, in-process: its
trace generator, reference baselines, schedule checker and goals, as its `sweep.py` applies
them, without starting a `qgjob simulate` process per trace. The judge's tools are not part of
this repository; point `--tools` at the directory that holds them (`tracegen.py`,
`refsim.py`, `schedcheck.py`, `sweep.py`).

    python -m benchmarks.judged --tools DIR KIND [KIND ...] [--first 9000] [--seeds 100]
                                [--variant NAME] [--set CONSTANT=VALUE ...] [--traces]

What the README's "in-process" figures are (they agree with `sweep.py`'s to the trace).
`--variant` takes `benchmarks.sweep`'s fleets unlike the usual ones ("fleet x2", "a handful
of jobs", ...; twice for both); `--set` runs the policy with a constant changed, for checks
like the sensitivity table's. Prints one row per kind (and, with `--traces`, per trace) and
writes benchmarks/results/judged-KIND-FIRST.json for each kind -- named after what the run
varies when it varies anything (`result_name`), so a trial never overwrites the default
run's tracked result.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import multiprocessing
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.common import command_line, print_table, seed_count, write_result
from benchmarks.goals import baselines, goals
from benchmarks.sweep import HANDFUL, VARIANTS, summary_of, varied
from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.sim.engine import Simulator
from qgjob.sim.generate import generate
from qgjob.sim.metrics import summarize
from qgjob.sim.trace import Trace, parse_trace

JUDGE_MODULES = ("tracegen", "refsim", "schedcheck", "sweep")
DEFAULT_SEEDS = 100
"""Traces per kind unless `--seeds` says otherwise (a result named after no count)."""


UNSCORED_HANDFUL = {"priority": "a priority-5 build", "flood": "a small org's build"}
"""Kinds whose judge's goals cannot score a handful (`benchmarks.sweep.HANDFUL`): its first two
builds, by name, are a priority trace's nightlies and a flood's big org's, and the goals
measure hotfixes and small orgs. The judge's `sweep.ratios` would fail on every trace."""


def judge_tools(folder: Path) -> dict[str, ModuleType]:
    """The judge's modules, imported from `folder` (they import one another by name)."""
    missing = [name for name in JUDGE_MODULES if not (folder / f"{name}.py").is_file()]
    if missing:
        raise ValueError(f"--tools {folder}: no {', '.join(m + '.py' for m in missing)} there "
                         "(the scheduling judge's tracegen, refsim, schedcheck and sweep)")
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return {name: importlib.import_module(name) for name in JUDGE_MODULES}


def tools_option(parser: argparse.ArgumentParser) -> None:
    """`--tools DIR`, for a benchmark that may judge on the judge's traces instead of this
    repository's (read back with `tools_given`)."""
    parser.add_argument("--tools", type=Path, default=None,
                        help="the directory of the scheduling judge's tracegen.py, refsim.py, "
                             "schedcheck.py and sweep.py: its traces, each schedule scored by "
                             "its checker, baselines and goals, instead of this repository's")


def tools_given(parser: argparse.ArgumentParser, folder: Path | None) -> str | None:
    """`--tools` as worker processes take it (a string, or None), once it is known to hold
    the judge's modules (a usage error otherwise)."""
    if folder is None:
        return None
    try:
        judge_tools(folder)
    except ValueError as bad:
        parser.error(str(bad))
    return str(folder)


def generated(tools: dict[str, ModuleType], kind: str, seed: int,
              variants: list[str]) -> dict[str, Any]:
    """The trace the judge's `tracegen.py gen KIND SEED` writes, on a fleet unlike the usual
    one for each of `variants`."""
    tracegen = tools["tracegen"]
    trace: dict[str, Any] = tracegen.SCENARIOS[kind](random.Random(seed))
    trace["install_seconds"] = dict(tracegen.INSTALL)
    trace["max_attempts"] = tracegen.MAX_ATTEMPTS
    trace["jobs"].sort(key=lambda job: (job["submit_at"], job["id"]))
    for variant in variants:
        trace = varied(trace, variant)
    return trace


@dataclass(frozen=True)
class JudgeScore:
    """The judge's schedule checker, baselines and goals for one trace (`generated`): any
    schedule's events scored as the judge's `sweep.py` scores `qgjob simulate`'s. The
    baselines run once, however many schedules are scored."""

    tools: dict[str, ModuleType]
    kind: str
    trace: dict[str, Any]
    fifo: dict[str, Any]
    affinity: dict[str, Any]

    @classmethod
    def of(cls, tools: dict[str, ModuleType], kind: str, trace: dict[str, Any]) -> JudgeScore:
        fifo, affinity = (tools["refsim"].simulate(trace, name) for name in ("fifo", "affinity"))
        return cls(tools, kind, trace, fifo, affinity)

    def goals(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each of the kind's goals, as `benchmarks.sweep` records one (so its `summary_of`
        sums them up): its ratio, limit and verdict."""
        with contextlib.redirect_stdout(io.StringIO()):
            checked = self.tools["schedcheck"].check(
                self.trace, {"trace": self.trace["name"], "policy": "qgjob", "events": events})
        ratios = self.tools["sweep"].ratios(self.kind, checked, self.fifo, self.affinity)
        return [{"goal": name, "value": ratios[name], "limit": limit,
                 "met": ratios[name] <= limit}
                for name, limit in self.tools["sweep"].GOALS[self.kind]]


Checks = Callable[[list[dict[str, Any]], str], list[dict[str, Any]]]
"""A schedule's events (and the schedule's name) scored against its kind's goals."""


def scored_trace(kind: str, seed: int, variants: Sequence[str], tools: str | None
                 ) -> tuple[Trace, Checks, float, float]:
    """The trace (this repository's generator's, or with `tools` the scheduling judge's),
    on the fleet of each of `variants` (`benchmarks.sweep.VARIANTS`); how a schedule of it is
    scored (this repository's goals and baselines, or the judge's checker, baselines and
    goals); and FIFO's installs and mean build turnaround on it."""
    if tools is not None:
        judge_modules = judge_tools(Path(tools))
        raw = generated(judge_modules, kind, seed, list(variants))
        score = JudgeScore.of(judge_modules, kind, raw)
        return (parse_trace(raw), lambda events, name: score.goals(events),
                score.fifo["installs"], score.fifo["turnaround_mean"])
    raw = generate(kind, seed)
    for variant in variants:
        raw = varied(raw, variant)
    trace = parse_trace(raw)
    base = baselines(trace)

    def checks(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
        return goals(kind, summarize(trace, name, events), base["fifo"], base["fifo-affinity"])
    return trace, checks, base["fifo"].installs, base["fifo"].mean_turnaround


def judge(args: tuple[str, str, int, list[str], dict[str, Any]]) -> dict[str, Any]:
    """One trace: the policy's schedule checked and its ratios against the judge's goals."""
    folder, kind, seed, variants, constants = args
    tools = judge_tools(Path(folder))
    trace = generated(tools, kind, seed, variants)
    policy = replace(FairAffinityPolicy(), **constants)
    goals = JudgeScore.of(tools, kind, trace).goals(
        Simulator(parse_trace(trace), policy).run().events)
    return {"kind": kind, "seed": seed, "goals": goals,
            "met": all(goal["met"] for goal in goals)}


def constant(text: str) -> tuple[str, float | int]:
    """`NAME=VALUE` for `--set`: a numeric constant of the policy (a whole number for a count
    such as `max_batch`)."""
    numeric = {f.name: f.type for f in fields(FairAffinityPolicy) if f.type in ("float", "int")}
    name, _, value = text.partition("=")
    if name not in numeric:
        raise argparse.ArgumentTypeError(
            f"{name!r} is not one of the policy's constants: {', '.join(sorted(numeric))}")
    try:
        return name, int(value) if numeric[name] == "int" else float(value)
    except ValueError:
        kind = "a whole number" if numeric[name] == "int" else "a number"
        raise argparse.ArgumentTypeError(f"{name}: {value!r} is not {kind}") from None


def result_name(kind: str, first: int, seeds: int, variants: list[str],
                constants: dict[str, float | int]) -> str:
    """The result file's name: judged-KIND-FIRST for the default 100 traces on the usual
    fleet with the policy as it stands, and after that what the run varies (how many
    traces, each fleet variant, each constant set), so a trial leaves the tracked default
    result as it was: judged-steady-9000-n200-fleet-x2-install_budget_share-0.48."""
    return "-".join([f"judged-{kind}-{first}", *varied_parts(seeds, variants),
                     *(f"{name}-{value}" for name, value in sorted(constants.items()))])


def varied_parts(seeds: int, variants: Sequence[str]) -> list[str]:
    """What a run varies, for its result's name: the trace count unless it is
    `DEFAULT_SEEDS`, then each fleet variant (`n200`, `fleet-x2`)."""
    counted = [f"n{seeds}"] if seeds != DEFAULT_SEEDS else []
    return counted + [variant.replace(" ", "-") for variant in variants]


def main() -> None:
    parser = argparse.ArgumentParser(description="the scheduling judge's goals, in-process")
    parser.add_argument("kinds", nargs="+", metavar="KIND",
                        choices=("burst", "steady", "priority", "flood"))
    parser.add_argument("--tools", type=Path, required=True,
                        help="the directory of the judge's tracegen.py, refsim.py, "
                             "schedcheck.py and sweep.py")
    parser.add_argument("--first", type=int, default=9000, help="first seed")
    parser.add_argument("--seeds", type=seed_count, default=DEFAULT_SEEDS, help="traces per kind")
    parser.add_argument("--variant", action="append", default=[], choices=sorted(VARIANTS),
                        help="a fleet unlike the usual one, or every attempt passing "
                             "(benchmarks.sweep's VARIANTS)")
    parser.add_argument("--set", action="append", default=[], type=constant, dest="constants",
                        metavar="CONSTANT=VALUE", help="run the policy with a constant changed")
    parser.add_argument("--traces", action="store_true", help="print every trace's ratios")
    args = parser.parse_args()
    unscorable = sorted(set(args.kinds) & UNSCORED_HANDFUL.keys())
    if HANDFUL in args.variant and unscorable:
        parser.error(f"--variant {HANDFUL!r}: the judge's {' and '.join(unscorable)} goals "
                     f"need {' and '.join(UNSCORED_HANDFUL[kind] for kind in unscorable)}, "
                     "which the first six jobs of the first two builds never have; "
                     "judge a handful as burst or steady, or with python -m benchmarks.sweep")
    try:
        judge_tools(args.tools)
    except ValueError as bad:
        parser.error(str(bad))
    constants = dict(args.constants)
    seeds = range(args.first, args.first + args.seeds)
    with multiprocessing.Pool() as pool:
        for kind in args.kinds:
            rows = pool.map(judge, [(str(args.tools), kind, seed, args.variant, constants)
                                    for seed in seeds], chunksize=1)
            summary = summary_of(rows)
            if args.traces:
                print_table(["seed", "meets every goal", *summary["goals"]], [
                    [row["seed"], "yes" if row["met"] else "MISS",
                     *(f"{goal['value']:.3f}" for goal in row["goals"])] for row in rows])
                print()
            print_table(["kind", "seeds", "traces meeting every goal", "holds", "medians"], [[
                kind, f"{seeds.start}-{seeds.stop - 1}", f"{summary['passed']}/{len(rows)}",
                "yes" if summary["holds"] else "no", ", ".join(
                    f"{name} {goal['median']:.3f}" for name, goal in summary["goals"].items())]])
            name = result_name(kind, args.first, args.seeds, args.variant, constants)
            path = write_result(name, {
                "command": command_line("benchmarks.judged"),
                "kind": kind, "first": args.first, "variants": args.variant,
                "constants": constants, **summary, "traces": rows})
            print(f"wrote {path}\n")


if __name__ == "__main__":
    main()
