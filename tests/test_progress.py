"""Progress goes to stderr: periodic lines in logs, a redrawn bar on a terminal."""

from __future__ import annotations

import io

from trailpolicy.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress("reading logs", total=4, stream=stream, interval=0.0)
    for _ in range(4):
        progress.advance(1, events=1000)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[-1].startswith("reading logs: 4/4 (100%), 4,000 events")
    assert "\r" not in stream.getvalue()


def test_bar_on_a_terminal() -> None:
    stream = Terminal()
    progress = Progress("reading logs", total=2, stream=stream)
    progress.interval = 0.0
    progress.advance(1, events=10)
    progress.advance(1, events=10)
    progress.close()
    text = stream.getvalue()
    assert text.count("\r") >= 2 and "[" + "#" * 30 + "]" in text and text.endswith("\n")


def test_disabled_is_silent() -> None:
    stream = io.StringIO()
    progress = Progress("x", total=1, stream=stream, interval=0.0, enabled=False)
    progress.advance(1)
    progress.close()
    assert stream.getvalue() == ""
