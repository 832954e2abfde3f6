"""Executors by name: each builds from the agent's options or names the option that is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from qgjob.agent.executors.registry import (
    EXECUTORS,
    ExecutorOptions,
    OptionError,
    build_executor,
)


def test_every_executor_has_a_name_and_a_summary() -> None:
    assert set(EXECUTORS) == {"simulate", "command", "appwright"}
    assert all(kind.summary for kind in EXECUTORS.values())


def test_the_simulation_builds_from_defaults() -> None:
    assert build_executor("simulate", ExecutorOptions()) is not None


@pytest.mark.parametrize(("name", "options", "option"), [
    ("nope", ExecutorOptions(), "--executor"),
    ("command", ExecutorOptions(), "--run-cmd"),
    ("command", ExecutorOptions(run_cmd="true", workdir=Path("/no/such/folder")), "--workdir"),
    ("appwright", ExecutorOptions(), "--project-dir"),
    ("appwright", ExecutorOptions(project_dir=Path("."), project_map="moon=x"),
     "--project-map"),
    ("appwright", ExecutorOptions(project_dir=Path("."), build_env="1 bad"), "--build-env"),
])
def test_a_bad_option_is_named(name: str, options: ExecutorOptions, option: str) -> None:
    with pytest.raises(OptionError) as raised:
        build_executor(name, options)
    assert raised.value.option == option
