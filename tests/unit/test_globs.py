from pathlib import Path

import pytest

from qgjob.cli.errors import EXIT_USAGE, CliError
from qgjob.cli.globs import expand_tests

TREE = ["tests/login.spec.js", "tests/onboarding.spec.js", "tests/smoke/math.spec.js",
        "odd/odd[1].spec.js", "tests/notes.md", "top.spec.js"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in TREE:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    return tmp_path


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        (["tests/*.spec.js"], ["tests/login.spec.js", "tests/onboarding.spec.js"]),
        (["tests/**/*.spec.js"], ["tests/login.spec.js", "tests/onboarding.spec.js",
                                  "tests/smoke/math.spec.js"]),
        (["tests/smoke/*.spec.js", "tests/**/math.spec.js", "./tests/smoke/math.spec.js"],
         ["tests/smoke/math.spec.js"]),  # de-duplicated, "./" dropped
        (["top.spec.js", "tests/login.spec.js"], ["tests/login.spec.js", "top.spec.js"]),
        (["**/*.md"], ["tests/notes.md"]),
    ],
)
def test_globs_expand_sorted_and_unique(tree: Path, patterns: list[str],
                                        expected: list[str]) -> None:
    assert expand_tests(patterns, tree) == expected


@pytest.mark.parametrize(
    ("patterns", "says"),
    [
        (["tests/*.test.ts"], "--test 'tests/*.test.ts' matches no file under"),
        (["tests/*.spec.js", "nothing/*.js"], "'nothing/*.js' matches no file"),
        ([""], "must not be empty"),
        (["tests"], "'tests' is a directory"),
        (["tests/../top.spec.js"], "'..'"),
        (["/etc/hostname"], "relative"),
        (["odd/*.spec.js"], "'odd/odd[1].spec.js' (from 'odd/*.spec.js'): test_path may contain"),
    ],
)
def test_bad_globs_are_usage_errors(tree: Path, patterns: list[str], says: str) -> None:
    with pytest.raises(CliError) as raised:
        expand_tests(patterns, tree)
    assert raised.value.code == EXIT_USAGE
    assert says in raised.value.message
