from collections.abc import Callable

import pytest

from qgjob.agent.executors.appwright import DEFAULT_PROJECTS
from qgjob.domain.values import (
    TARGETS,
    InvalidValue,
    check_app_version_id,
    check_name,
    check_org_id,
    check_test_path,
    parse_priority,
    parse_target,
)
from qgjob.protocol.jobs import JobCreate
from qgjob.scheduler.views import DEFAULT_INSTALL_SECONDS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(1, 1), (5, 5), ("3", 3), (" 4 ", 4), ("low", 1), ("normal", 3), ("medium", 3),
     ("HIGH", 4), ("urgent", 5), ("critical", 5)],
)
def test_priority_accepts_numbers_and_names(raw: str | int, expected: int) -> None:
    assert parse_priority(raw) == expected


# "\u00b2" is a superscript two and "\u0661" an Arabic-Indic one: str.isdigit() accepts both.
@pytest.mark.parametrize(
    "raw", [0, 6, -1, "0", "9", "", "highest", "3.5", True, "\u00b2", "\u0661"]
)
def test_priority_refuses(raw: str | int) -> None:
    with pytest.raises(InvalidValue):
        parse_priority(raw)


@pytest.mark.parametrize(("raw", "expected"), [("emulator", "emulator"), ("Device", "device"),
                                               ("browserstack", "browserstack")])
def test_targets(raw: str, expected: str) -> None:
    assert parse_target(raw) == expected


@pytest.mark.parametrize("raw", ["", "tv", "emulators", "android"])
def test_unknown_target(raw: str) -> None:
    with pytest.raises(InvalidValue, match="not one of"):
        parse_target(raw)


def test_every_table_by_target_covers_the_one_list_of_targets() -> None:
    tables = [DEFAULT_INSTALL_SECONDS, DEFAULT_PROJECTS,
              JobCreate.model_json_schema()["properties"]["target"]]
    assert [sorted(t.get("enum", t)) for t in tables] == [sorted(TARGETS)] * len(tables)


@pytest.mark.parametrize("value", ["xyz123", "1.4.2+881", "build-2026-11-23",
                                   "bs://a1b2c3d4e5f6", "release/7.1@rc2"])
def test_real_build_ids_pass(value: str) -> None:
    assert check_app_version_id(value) == value


@pytest.mark.parametrize("value", ["", " xyz", "x y", "a;rm -rf", "$(id)", "x" * 201, "-flag",
                                   "a\nb", "a|b"])
def test_bad_build_ids(value: str) -> None:
    with pytest.raises(InvalidValue):
        check_app_version_id(value)


@pytest.mark.parametrize("value", ["qualgent", "acme", "org_1", "a.b-c"])
def test_org_ids(value: str) -> None:
    assert check_org_id(value) == value


@pytest.mark.parametrize("value", ["", "a b", "a/b", "x" * 65, "é"])
def test_bad_org_ids(value: str) -> None:
    with pytest.raises(InvalidValue):
        check_org_id(value)


@pytest.mark.parametrize("value", ["tests/onboarding.spec.js", "e2e/login flow.spec.ts",
                                   "./tests/a.spec.js", "tests/v1.2/checkout+cart.spec.js"])
def test_relative_test_paths(value: str) -> None:
    assert check_test_path(value) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("/etc/passwd", "relative"),
        ("~/x.spec.js", "relative"),
        ("C:/tests/x.spec.js", "relative"),
        ("tests/../../secret.js", "'..'"),
        ("..", "'..'"),
        ("tests/a.spec.js; rm -rf /", "may contain only"),
        ("tests/$(id).js", "may contain only"),
        ("tests/`id`.js", "may contain only"),
        ("tests/a\nb.js", "may contain only"),
        ("tests/a\x00.js", "may contain only"),
        ("tests/a|b.js", "may contain only"),
        ("tests/a  b.js", "may contain only"),
        (" tests/a.js", "may contain only"),
        ("", "empty"),
        ("t" * 513, "longer"),
        ("--config=evil.js", "option"),
        ("-x.spec.js", "option"),
        ("tests\\..\\secret.js", "may contain only"),
    ],
)
def test_bad_test_paths(value: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        check_test_path(value)


@pytest.mark.parametrize(("check", "value", "says"), [
    (check_org_id, "-acme", "org_id '-acme' must start with a letter or digit"),
    (check_org_id, ".acme", "org_id '.acme' must start with a letter or digit"),
    (check_org_id, "_x", "org_id '_x' must start with a letter or digit"),
    (check_org_id, "a b", "org_id 'a b' may contain only letters, digits and . _ -, not ' '"),
    (check_org_id, "-a/b", "org_id '-a/b' may contain only letters, digits and . _ -, not '/'"),
    (check_org_id, "é", "org_id 'é' may contain only letters, digits and . _ -, not 'é'"),
    (check_org_id, "x" * 65, "org_id is longer than 64 characters"),
    (check_org_id, "", "org_id must not be empty"),
    (check_app_version_id, "-flag", "app_version_id '-flag' must start with a letter or digit"),
    (check_app_version_id, "x y", "app_version_id 'x y' may contain only letters, digits and "
                                  ". _ : / + @ -, not ' '"),
    (lambda value: check_name(value, "--job-id"), "-x",
     "--job-id '-x' must start with a letter or digit"),
    (lambda value: check_name(value, "job_id"), "a\nb",
     "job_id 'a\\nb' may contain only letters, digits and . _ : @ -, not '\\n'"),
])
def test_an_identifiers_refusal_names_the_rule_it_breaks(
        check: Callable[[str], str], value: str, says: str) -> None:
    """`-acme` was told it "may contain only letters, digits, '.', '_', '-'", which it does:
    the rule it broke, its first character, went unnamed."""
    with pytest.raises(InvalidValue) as refused:
        check(value)
    assert str(refused.value) == says
