"""What `qgjob run` tells the server about the run it creates: a name and where it came
from, read from GitHub Actions' variables when it runs there (the workflow, run number and
attempt, commit, branch and pull request), or the name the user passed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from qgjob.protocol import limits

_PULL_REF = re.compile(r"^refs/pull/([0-9]{1,9})/")
_HEX = re.compile(r"^[0-9a-fA-F]{4,64}$")
_CONTROL = re.compile(f"[{limits.NOT_ONE_LINE}]")
"""What the server refuses in one line of text (`limits.ONE_LINE_PATTERN`): a branch may be
named with any of it."""
NAME_MAX = 200
"""The most a run's name may hold: the server's limit (`RunName` in qgjob/protocol/runs.py)."""


def github_source(environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The run's origin inside GitHub Actions (None outside it); only what is known."""
    if environ.get("GITHUB_ACTIONS") != "true":
        return None
    repository, run_id = environ.get("GITHUB_REPOSITORY"), environ.get("GITHUB_RUN_ID")
    pull = _PULL_REF.match(environ.get("GITHUB_REF", ""))
    server = environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    source = {
        "repository": repository, "workflow": environ.get("GITHUB_WORKFLOW"),
        "ci_run_id": run_id, "ci_run_attempt": _number(environ.get("GITHUB_RUN_ATTEMPT")),
        "commit_sha": environ.get("GITHUB_SHA") if _HEX.match(environ.get("GITHUB_SHA", ""))
        else None,
        "branch": environ.get("GITHUB_HEAD_REF") or environ.get("GITHUB_REF_NAME"),
        "pull_request": int(pull.group(1)) if pull else None,
        "url": f"{server}/{repository}/actions/runs/{run_id}" if repository and run_id
        and server.startswith(("https://", "http://")) else None,
    }
    return {key: _line(value) if isinstance(value, str) else value
            for key, value in source.items() if value not in (None, "")}


def github_run_number(environ: Mapping[str, str]) -> int | None:
    """The number GitHub's pages show a workflow run by (`#42`), counting that workflow's
    runs; the run id (10-11 digits) is what its URL and the run's `source` keep."""
    return _number(environ.get("GITHUB_RUN_NUMBER"))


def run_name(given: str | None, source: Mapping[str, Any] | None, fallback: str,
             run_number: int | None = None) -> str:
    """The name the user gave; else, inside GitHub Actions, `CI #42 (attempt 2) · main ·
    PR #7 · 0123abcd` (`CI run <id>` without a run number); else `fallback`."""
    if given:
        return _line(given)[:NAME_MAX]
    if not source:
        return fallback
    parts = [source.get("workflow") or source.get("repository") or "GitHub Actions"]
    if run_number:
        parts[0] += f" #{run_number}"
    elif source.get("ci_run_id"):
        parts[0] += f" run {source['ci_run_id']}"
    if (source.get("ci_run_attempt") or 1) > 1:
        parts[0] += f" (attempt {source['ci_run_attempt']})"
    parts += [source["branch"]] if source.get("branch") else []
    parts += [f"PR #{source['pull_request']}"] if source.get("pull_request") else []
    parts += [source["commit_sha"][:8]] if source.get("commit_sha") else []
    return " · ".join(parts)[:NAME_MAX]


def check_run_name(given: str) -> str:
    """`--run-name`: refused (ValueError) past the server's limit, rather than cut to it."""
    length = len(_CONTROL.sub(" ", given).strip())
    if length > NAME_MAX:
        raise ValueError(f"at most {NAME_MAX} characters; this one has {length}")
    return given


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isascii() and text.isdigit() and int(text) >= 1 else None


def _line(text: str) -> str:
    return _CONTROL.sub(" ", text).strip()[:NAME_MAX] or "-"
