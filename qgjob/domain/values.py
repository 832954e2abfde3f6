"""Values users type: targets, priorities and identifiers, and the rules they must follow.

The API and the CLI share these checks, so a bad value gets the same one-line reason
whether it is caught locally by the CLI (exit 2) or by the server (HTTP 422).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal, get_args

TargetName = Literal["emulator", "device", "browserstack"]
"""The kinds of device a job can run on: the one list (API schemas, CLI checks, metrics and
the simulator read it from here)."""
TARGETS: tuple[TargetName, ...] = get_args(TargetName)

MIN_PRIORITY = 1
MAX_PRIORITY = 5
PRIORITIES = range(MIN_PRIORITY, MAX_PRIORITY + 1)
"""Every priority, lowest first."""
_PRIORITY_RANGE = f"{MIN_PRIORITY}-{MAX_PRIORITY}"
DEFAULT_PRIORITY = 3
NORMAL_PRIORITY = 3
PRIORITY_NAMES = {
    "low": 1,
    "normal": 3,
    "medium": 3,
    "high": 4,
    "urgent": 5,
    "critical": 5,
}

ORG_ID_MAX = 64
APP_VERSION_ID_MAX = 200
TEST_PATH_MAX = 512

_INTEGER = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: str.isdigit() accepts "²"
# Identifiers start with a letter or digit (so none reads as an option or a hidden file);
# the characters after it are each identifier's own.
_FIRST = "[A-Za-z0-9]"
_ORG_ID_CHARACTERS = "[A-Za-z0-9._-]"
_NAME_CHARACTERS = "[A-Za-z0-9._:@-]"
# Build ids look like "xyz123", "1.4.2+881", "build-2026-11-23" or BrowserStack's "bs://<hash>".
_APP_VERSION_ID_CHARACTERS = "[A-Za-z0-9._:/+@-]"
ORG_ID_PATTERN = f"{_FIRST}{_ORG_ID_CHARACTERS}*"
NAME_PATTERN = f"{_FIRST}{_NAME_CHARACTERS}*"
NAME_MAX = 128
APP_VERSION_ID_PATTERN = f"{_FIRST}{_APP_VERSION_ID_CHARACTERS}*"
# Test paths are relative file paths; nothing a shell would treat specially, and no leading
# '-' (a runner would read it as an option).
TEST_PATH_PATTERN = r"[A-Za-z0-9._/@+,=][A-Za-z0-9._/@+,=-]*(?: [A-Za-z0-9._/@+,=-]+)*"
_TEST_PATH = re.compile(TEST_PATH_PATTERN)
_DRIVE = re.compile(r"[A-Za-z]:")
_STARTS_WELL = re.compile(_FIRST)


class InvalidValue(ValueError):
    """A user-supplied value breaks a rule; the message says which, in one line."""


@dataclass(frozen=True)
class IdentifierRule:
    """What an identifier may be: its length, its characters, and a first character that is a
    letter or digit (the same for every identifier). A refusal names the rule broken."""

    characters: re.Pattern[str]
    characters_in_words: str
    max_length: int

    def check(self, field: str, value: str) -> str:
        """`value`, or InvalidValue saying which rule it breaks: its length, a character
        no position may hold (the first one found), or its first character."""
        if not value:
            raise InvalidValue(f"{field} must not be empty")
        if len(value) > self.max_length:
            raise InvalidValue(f"{field} is longer than {self.max_length} characters")
        stray = next((c for c in value if not self.characters.fullmatch(c)), None)
        if stray is not None:
            raise InvalidValue(f"{field} {value[:40]!r} may contain only "
                               f"{self.characters_in_words}, not {stray!r}")
        if not _STARTS_WELL.fullmatch(value[0]):
            raise InvalidValue(f"{field} {value[:40]!r} must start with a letter or digit")
        return value


_ORG_ID = IdentifierRule(re.compile(_ORG_ID_CHARACTERS), "letters, digits and . _ -",
                             ORG_ID_MAX)
_NAME = IdentifierRule(re.compile(_NAME_CHARACTERS), "letters, digits and . _ : @ -",
                           NAME_MAX)
"""Agent and device names, and the ids the API hands out (jobs, runs, agent sessions,
leases)."""
_APP_VERSION_ID = IdentifierRule(re.compile(_APP_VERSION_ID_CHARACTERS),
                                     "letters, digits and . _ : / + @ -", APP_VERSION_ID_MAX)


def parse_priority(raw: str | int) -> int:
    """Accept 1..5 or a name (low, normal/medium, high, urgent/critical)."""
    if isinstance(raw, bool):
        raise InvalidValue(f"priority must be an integer {_PRIORITY_RANGE} or a name")
    if isinstance(raw, int):
        value = raw
    else:
        text = raw.strip().lower()
        if text in PRIORITY_NAMES:
            return PRIORITY_NAMES[text]
        if not _INTEGER.fullmatch(text):
            names = ", ".join(PRIORITY_NAMES)
            raise InvalidValue(f"priority {raw!r} is not {_PRIORITY_RANGE} or one of: {names}")
        value = int(text)
    if value not in PRIORITIES:
        raise InvalidValue(f"priority {value} is out of range {_PRIORITY_RANGE}")
    return value


def parse_target(raw: str) -> TargetName:
    text = raw.strip().lower()
    if text not in TARGETS:
        raise InvalidValue(f"target {raw!r} is not one of: {', '.join(TARGETS)}")
    return text


# A batch of submissions repeats one org and one build on every job: the checks of those two
# are remembered (a failed check raises each time; only good values are kept).
@functools.lru_cache(maxsize=1024)
def check_org_id(value: str) -> str:
    return _ORG_ID.check("org_id", value)


@functools.lru_cache(maxsize=1024)
def check_app_version_id(value: str) -> str:
    return _APP_VERSION_ID.check("app_version_id", value)


def check_name(value: str, what: str = "name") -> str:
    """Agent and device names, and ids (`what` names the one checked)."""
    return _NAME.check(what, value)


def parse_count(raw: str, what: str) -> int:
    text = raw.strip()
    if not _INTEGER.fullmatch(text) or int(text) < 1:
        raise InvalidValue(f"{what} must be a positive whole number")
    return int(text)


def check_test_path(value: str) -> str:
    """A relative path inside the test suite: no leading '/', no '..', no shell characters."""
    if not value:
        raise InvalidValue("test_path must not be empty")
    if len(value) > TEST_PATH_MAX:
        raise InvalidValue(f"test_path is longer than {TEST_PATH_MAX} characters")
    if value.startswith(("/", "~", "\\")) or _DRIVE.match(value):
        raise InvalidValue("test_path must be relative to the test suite, not absolute")
    if ".." in value.split("/"):
        raise InvalidValue("test_path must not contain '..'")
    if value.startswith("-"):
        raise InvalidValue("test_path must not start with '-' (it would read as an option)")
    if not _TEST_PATH.fullmatch(value):
        raise InvalidValue(
            "test_path may contain only letters, digits, single spaces and . _ / @ + , = -"
        )
    return value


UNSTORABLE_SHOWN_AS = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(value: object) -> object:
    """Free text a test printed, made storable and shown faithfully everywhere: NUL (which
    PostgreSQL's text cannot hold and C strings end at) and lone surrogates (which no UTF-8
    encodes) become U+FFFD, visibly, one for one; everything else is kept as it is."""
    if isinstance(value, str):
        return _UNSTORABLE.sub(UNSTORABLE_SHOWN_AS, value)
    return value
