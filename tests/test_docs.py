"""The README's promises that a script can check."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_ci_runs_the_readme_test_command() -> None:
    main_job, test_command = readme_commands()
    assert main_job == "pip install . && qgjob up"
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()


def test_documented_benchmark_commands_exist() -> None:
    text = (ROOT / "README.md").read_text()
    for module in re.findall(r"python -m (benchmarks\.[a-z_]+)", text):
        assert (ROOT / (module.replace(".", "/") + ".py")).exists(), module


def test_the_deployment_samples_use_real_options() -> None:
    """deploy/: the systemd unit starts `qgjob server` with options it has, and the nginx
    sample waits longer than a claim may."""
    from qgjob.settings import ServerSettings
    from tests.e2e.processes import cli

    unit = (ROOT / "deploy" / "qgjob-server@.service").read_text()
    [command] = re.findall(r"^ExecStart=\S+/qgjob (.+)$", unit, re.MULTILINE)
    help_text = cli("http://127.0.0.1:1", *command.split()[:1], "--help").stdout
    for option in re.findall(r"--[a-z-]+", command):
        assert option in help_text, option
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    [read_timeout] = re.findall(r"location / \{.*?proxy_read_timeout (\d+)s", nginx, re.S)
    assert int(read_timeout) > ServerSettings().claim_wait_seconds + 10


def test_the_unit_file_gives_the_connection_cap_its_descriptors() -> None:
    """Each connection is a descriptor: systemd's default limit (1,024) would lower the
    server's connection cap far below QGJOB_MAX_CONNECTIONS."""
    from qgjob.api.http_guard import RESERVED_DESCRIPTORS
    from qgjob.settings import ServerSettings

    unit = (ROOT / "deploy" / "qgjob-server@.service").read_text()
    [limit] = re.findall(r"^LimitNOFILE=(\d+)$", unit, re.MULTILINE)
    assert int(limit) >= ServerSettings().max_connections + RESERVED_DESCRIPTORS


def test_security_doc_settings_have_the_servers_defaults() -> None:
    """docs/security.md's table of limits and timeouts says what the server really uses."""
    from qgjob.settings import ServerSettings

    defaults = ServerSettings()
    table = (ROOT / "docs" / "security.md").read_text()
    rows = re.findall(r"^\| `QGJOB_([A-Z_]+)` \| `?([^`|]*?)`? \|", table, re.MULTILINE)
    assert {name for name, _ in rows} >= {
        "HTTP_IDLE_SECONDS", "HTTP_HEADER_SECONDS", "MAX_CONNECTIONS",
        "MAX_QUEUED_JOBS_PER_ORG", "TRUSTED_PROXIES", "MAX_BODY_BYTES"}
    for name, documented in rows:
        value = getattr(defaults, name.lower())
        assert documented.strip() == ("empty" if value == "" else f"{value:g}"
                                      if isinstance(value, float) else str(value)), name


def test_every_shared_view_is_listed_for_submitters() -> None:
    """What a submitter sees of views that span orgs is written down, /events included."""
    readme = (ROOT / "README.md").read_text()
    listed = readme.split("What a submitter sees of shared views:", 1)[1].split("\n\n", 2)[1]
    for view in ("GET /groups", "GET /queue", "GET /agents", "GET /events"):
        assert f"`{view}`" in listed, view


def test_the_set_up_sections_simulate_output_is_what_simulate_prints(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The README shows `qgjob simulate examples/traces/burst.json` as it printed; a policy
    change that moves its figures must copy the new output there."""
    from tests.cli.test_simulate import run
    from tests.sim.test_simulator import TRACES

    section = (ROOT / "README.md").read_text().split("## Set up", 1)[1].split("\n## ", 1)[0]
    command = "$ qgjob simulate examples/traces/burst.json\n"
    shown = section.split(command, 1)[1].split("\n\n", 1)[0].splitlines()
    monkeypatch.setenv("COLUMNS", "200")  # a narrow terminal wraps the table, not the figures
    code, out, _ = run(capsys, "simulate", str(TRACES / "burst.json"))
    assert code == 0
    printed = [" ".join(line.split()) for line in out.splitlines() if line.strip()]
    assert [" ".join(line.split()) for line in shown] == printed
