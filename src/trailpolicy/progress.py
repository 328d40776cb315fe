"""Progress on stderr: a bar on a terminal, a line every few seconds otherwise (CI logs)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, label: str, total: int | None = None, stream: TextIO | None = None,
                 interval: float = 5.0, enabled: bool = True) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.events = 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = 0.2 if self.tty else interval
        self.enabled = enabled
        self._started = time.monotonic()
        self._last = self._started

    def advance(self, units: int = 1, events: int = 0) -> None:
        self.done += units
        self.events += events
        now = time.monotonic()
        if self.enabled and now - self._last >= self.interval:
            self._last = now
            self._show(now)

    def _show(self, now: float) -> None:
        elapsed = now - self._started
        rate = self.events / elapsed if elapsed > 0 else 0.0
        if self.total:
            share = self.done / self.total
            if self.tty:
                filled = int(share * 30)
                bar = "#" * filled + "-" * (30 - filled)
                self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {self.events:,} events {rate:,.0f}/s")
            else:
                self.stream.write(f"{self.label}: {self.done}/{self.total} ({share:.0%}), {self.events:,} events, {rate:,.0f}/s\n")
        else:
            end = "" if self.tty else "\n"
            prefix = "\r" if self.tty else ""
            self.stream.write(f"{prefix}{self.label}: {self.done} done, {self.events:,} events{end}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self.done:
            self._show(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
