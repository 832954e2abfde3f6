"""`qgjob tests` (each test's health), `qgjob stats` (per org) and `qgjob quarantine
add|remove|list`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from qgjob.cli import render
from qgjob.cli.app import app, globals_of
from qgjob.cli.jobs import JsonOption, OrgOption, _checked, _target, checked_org_id
from qgjob.cli.numbers import number
from qgjob.domain import values
from qgjob.domain.health import TEST_SORTS
from qgjob.protocol import limits

if TYPE_CHECKING:
    from rich.table import Table

OrgFilterOption = Annotated[str | None, typer.Option(
    "--org-id", help="Only this org's tests (a submitter token sees its own org's only).",
    callback=checked_org_id)]
OrgStatsOption = Annotated[str | None, typer.Option(
    "--org-id", help="Only this org's statistics (a submitter token sees its own org's only).",
    callback=checked_org_id)]
TestOption = Annotated[str, typer.Option(
    "--test", help="The test file, as jobs name it.",
    callback=lambda v: _checked(values.check_test_path, v))]
STATUS_STYLES = {"flaky": "yellow", "broken": "red", "failing": "red", "fixed": "green",
                 "healthy": "green", "new": "cyan"}


def _sort(raw: str) -> str:
    if raw not in TEST_SORTS:
        raise typer.BadParameter(f"must be one of {', '.join(TEST_SORTS)}")
    return raw


@app.command("tests")
def list_tests(
    ctx: typer.Context,
    org_id: OrgFilterOption = None,
    target: Annotated[str | None, typer.Option("--target", callback=_target)] = None,
    test: Annotated[str | None, typer.Option(
        "--test", help="One test file (with --cases, its test cases).",
        callback=lambda v: _checked(values.check_test_path, v))] = None,
    cases: Annotated[bool, typer.Option(
        "--cases", help="Each test case the reports named, not only test files.")] = False,
    sort: Annotated[str, typer.Option(
        "--sort", callback=_sort,
        help="flaky (default), failing, slowest, runs, recent or name.")] = "flaky",
    limit: Annotated[int, typer.Option("--limit", min=1, max=limits.MAX_LIST_LIMIT)] = 200,
    as_json: JsonOption = False,
) -> int:
    """Each test's health: status, runs, pass rate, flaky score, duration p50/p95 and its
    trend, last failure. A test is flaky when it passed and failed on the same app build."""
    params = {"org_id": org_id, "target": target, "test_path": test,
              "cases": "true" if cases else None, "sort": sort, "limit": limit}
    found = globals_of(ctx).client().get("/tests", params)["tests"]
    filters = _given({"--org-id": org_id, "--target": target, "--test": test})
    render.listing(found, as_json, f"no tests match {filters}" if filters
                   else "no test history yet: tests appear here once they ran", _tests_table)
    return 0


def _given(filters: dict[str, str | None]) -> str:
    """The filters a command was given, as typed (`--org-id acme --target device`): an empty
    list then says what matched nothing, not that nothing is there."""
    return " ".join(f"{option} {value}" for option, value in filters.items() if value)


def _tests_table(rows: Sequence[dict[str, Any]]) -> Table:
    return render.table(
        ["ORG", "TEST", "TARGET", "STATUS", "RUNS", "PASS", "FLAKY", "P50", "P95", "TREND",
         "LAST FAILURE"],
        ([r["org_id"], r["test_path"] + (f" > {r['title']}" if r["title"] else ""),
          r["target"], _status(r), r["runs"], f"{r['pass_rate']:.0%}",
          f"{r['flaky_score']:.0%}" if r["flaky_builds"] else "-",
          f"{r['p50_seconds']:.1f}s", f"{r['p95_seconds']:.1f}s", _trend(r["trend"]),
          _failure(r["last_failure"])] for r in rows))


def _status(row: dict[str, Any]) -> Text:
    return Text(row["status"], style=STATUS_STYLES.get(row["status"], "white")) \
        + (" (quarantined)" if row["quarantined"] else "")


def _trend(trend: float | None) -> str:
    """The change in pass rate, signed; a change that rounds to nothing is `0%`, not `-0%`."""
    if trend is None:
        return "-"
    text = f"{trend:+.0%}"
    return "0%" if text in ("+0%", "-0%") else text


def _failure(failure: dict[str, Any] | None) -> str:
    if failure is None:
        return "-"
    error = render.short_error(failure["error"], 60) or "failed"
    return f"{render.short_time(failure['at'])} {failure['app_version_id']}: {error}"


@app.command("stats")
def stats(
    ctx: typer.Context,
    org_id: OrgStatsOption = None,
    days: Annotated[float, typer.Option(
        "--days", parser=number(0.01, limits.STATS_DAYS_MAX),
        help=f"How far back to look (0.01-{limits.STATS_DAYS_MAX:g} days).")] = 7,
    as_json: JsonOption = False,
) -> int:
    """Per org: jobs finished, success rate, flaky rate, device-hours, queue wait p50/p95."""
    found = globals_of(ctx).client().get("/stats", {"org_id": org_id, "days": days})["stats"]
    of_org = f" of {org_id}" if org_id else ""
    render.listing(found, as_json, f"no jobs{of_org} finished in the last {days:g} day(s)",
                   lambda rows: render.table(
                       ["ORG", "FINISHED", "SUCCESS", "FLAKY", "DEVICE-HOURS", "WAIT P50",
                        "WAIT P95"],
                       ([r["org_id"], r["finished"], _percent(r["success_rate"]),
                         _percent(r["flaky_rate"]), f"{r['device_hours']:.2f}",
                         _wait(r["queue_wait_p50_seconds"]), _wait(r["queue_wait_p95_seconds"])]
                        for r in rows), title=f"last {days:g} day(s)"))
    return 0


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


def _wait(seconds: float | None) -> str:
    return "-" if seconds is None else f"<= {seconds:g}s"


quarantine_app = typer.Typer(
    name="quarantine", no_args_is_help=True,
    help="Quarantined tests still run and are reported, but a failure of theirs does not "
         "fail `qgjob run` or `qgjob wait` (a warning says so).")
app.add_typer(quarantine_app)


@quarantine_app.command("add")
def add(
    ctx: typer.Context,
    org_id: OrgOption,
    test: TestOption,
    reason: Annotated[str | None, typer.Option(
        "--reason", show_default=False,
        help="Why, for whoever reads the list (on a test quarantined already, replaces its "
             "reason; left out, the reason stays).")] = None,
) -> int:
    """Quarantine a test file of an org (on every target)."""
    if reason is not None and (len(reason) > limits.QUARANTINE_REASON_MAX
                               or not re.fullmatch(limits.QUARANTINE_REASON_PATTERN, reason)):
        raise typer.BadParameter(f"at most {limits.QUARANTINE_REASON_MAX} characters, on one "
                                 "line", param_hint="'--reason'")
    entry = globals_of(ctx).client().post(
        "/quarantine", {"org_id": org_id, "test_path": test, "reason": reason})
    render.stderr.print(f"{entry['test_path']} of {entry['org_id']} is quarantined")
    return 0


@quarantine_app.command("remove")
def remove(ctx: typer.Context, org_id: OrgOption, test: TestOption) -> int:
    """Take a test out of quarantine: its failures fail runs again."""
    globals_of(ctx).client().delete("/quarantine", {"org_id": org_id, "test_path": test})
    render.stderr.print(f"{test} of {org_id} is no longer quarantined")
    return 0


@quarantine_app.command("list")
def list_quarantined(ctx: typer.Context, org_id: OrgFilterOption = None,
                     as_json: JsonOption = False) -> int:
    """The quarantined tests, by org and test file."""
    found = globals_of(ctx).client().get("/quarantine", {"org_id": org_id})["quarantined"]
    render.listing(found, as_json, f"no test of {org_id} is quarantined" if org_id
                   else "no test is quarantined",
                   lambda rows: render.table(
                       ["ORG", "TEST", "SINCE", "REASON"],
                       ([r["org_id"], r["test_path"], r["added_at"][:16].replace("T", " "),
                         r["reason"] or "-"] for r in rows)))
    return 0
