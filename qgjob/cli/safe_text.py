"""Text from elsewhere (the server's errors, test titles, a job's log) made safe for a
terminal. Apart from `render` so the HTTP client can clean the server's error messages where
they enter the CLI without importing Rich."""

from __future__ import annotations

import re

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"            # CSI: colours, cursor moves, clearing the screen
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window title, clipboard (OSC 52), links
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"       # DCS, SOS, PM, APC strings
    r"|\x1b.?"                              # any other escape
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]")       # other control characters (tab and newline stay)
_COLOUR = re.compile(r"\x1b\[[0-9;:]*m|\r")
_UNFINISHED = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*|[PX^_][^\x1b]*)?\Z")
UNFINISHED_MAX_CHARS = 256
"""A trailing escape sequence longer than this is not waited for (`unfinished_escape`): it is
no colour, and is dropped as it is."""


def plain(text: str) -> str:
    """The server's free text (an agent's error, a test's title) as a terminal shows it
    safely: escape sequences and control characters dropped, as the dashboard drops them, so
    a reported error cannot clear the screen, retitle the window or write the clipboard."""
    return _ESCAPES.sub("", text)


def unfinished_escape(text: str) -> int:
    """How many characters at the end of `text` are an escape sequence not yet complete: a
    job's output arrives in pieces, and a colour code split between two (`ESC[3` then `4m`)
    would otherwise lose its start here and show its end (`4m`) as text. A reader holds them
    back and reads them again with the rest."""
    found = _UNFINISHED.search(text[-UNFINISHED_MAX_CHARS:])
    return len(found[0]) if found else 0


def colours_kept(text: str) -> str:
    """`plain`, but keeping colours and styles (SGR, `ESC[…m`) and carriage returns: a job's
    log on a terminal keeps its test runner's colours, while titles, the clipboard, cursor
    moves and screen clears are dropped."""
    return _ESCAPES.sub(lambda found: found[0] if _COLOUR.fullmatch(found[0]) else "", text)
