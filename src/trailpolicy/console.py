"""Everything trailpolicy says on stderr: one line each, whatever event text it quotes.

The GitHub Actions runner reads a step's stdout and stderr line by line and executes workflow
commands it finds there: a line that starts with ``::`` (``::error::``, ``::add-mask::``,
``::stop-commands::``), or that holds the legacy ``##[command]`` anywhere. Event text (call names,
reasons, file names, ARNs, baseline keys) can hold anything, newlines included, and reaches stderr
in warnings and errors; written raw, it could start a line of its own and run a command in the
job. So every stderr line goes through ``say``, which writes control characters as visible
escapes (``\\n``) and breaks ``##[``: each message stays on the one line that starts with
``trailpolicy:``. (Annotations meant for the runner are written by ``github.env``, escaped as
its workflow-command format asks; the progress display writes only its fixed label and numbers.)
"""

from __future__ import annotations

import sys
import unicodedata
from typing import TextIO

# Characters that end a line somewhere (Python's str.splitlines, terminals, the runner) or that
# make a line read differently from what it holds.
_BREAKS = {"\u2028", "\u2029"}
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LEGACY_COMMAND = "##["


def _visible(ch: str) -> str:
    if unicodedata.category(ch) == "Cc" or ch in _BREAKS or ch in _BIDI:
        return ch.encode("unicode_escape").decode("ascii")
    return ch


def clean(text: object) -> str:
    """``text`` on one line: control, line-break and bidi characters as escapes, ``##[`` broken."""
    return "".join(_visible(ch) for ch in str(text)).replace(_LEGACY_COMMAND, "##\u200b[")


def say(message: object, *, kind: str | None = None, stream: TextIO | None = None) -> None:
    """Write ``trailpolicy: [kind: ]message`` as one line on ``stream`` (stderr by default)."""
    stream = stream if stream is not None else sys.stderr
    stream.write(f"trailpolicy: {kind + ': ' if kind else ''}{clean(message)}\n")
    stream.flush()


def info(message: object, *, stream: TextIO | None = None) -> None:
    say(message, stream=stream)


def warn(message: object, *, stream: TextIO | None = None) -> None:
    say(message, kind="warning", stream=stream)


def error(message: object, *, stream: TextIO | None = None) -> None:
    """Bad usage or input (exit 2)."""
    say(message, kind="error", stream=stream)


def failed(message: object, *, stream: TextIO | None = None) -> None:
    """Could not finish (exit 1)."""
    say(message, kind="failed", stream=stream)
