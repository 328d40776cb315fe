"""Parsing the times users type: ISO 8601 with ``Z`` or an offset, with or without fractions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from .errors import UsageError

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?\Z")
# Times a window may name: from the Unix epoch (CloudTrail itself began in 2013) to well before
# the end of datetime's range, so that a day added for late delivery never overflows.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
LONGEST_WAIT = timedelta(days=7)


def parse_instant(text: str, option: str) -> datetime:
    """A timezone-aware UTC datetime, or UsageError naming the option.

    A time without a zone is refused rather than guessed: CloudTrail is in UTC, local machines
    are not, and a window that is off by hours yields a policy that silently misses calls.
    """
    value = text.strip()
    if value.endswith(("z", "Z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not an ISO 8601 time (e.g. 2024-05-01T12:00:00Z)") from None
    if parsed.tzinfo is None:
        raise UsageError(f"{option} {text!r} has no time zone; add Z for UTC or an offset such as +02:00")
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        parsed = None
    if parsed is None or not EARLIEST <= parsed <= LATEST:
        raise UsageError(f"{option} {text!r} is outside {EARLIEST.year}..{LATEST.year - 1}")
    return parsed


def parse_duration(text: str, option: str) -> timedelta:
    """``90s``, ``15m``, ``1h30m`` or a plain number of seconds."""
    value = text.strip().lower()
    if value.isdigit():
        value += "s"
    match = _DURATION.match(value)
    if not value or not match:
        raise UsageError(f"{option} {text!r} is not a duration (e.g. 900, 15m, 1h30m)")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    if hours * 3600 + minutes * 60 + seconds > LONGEST_WAIT.total_seconds():
        raise UsageError(f"{option} {text!r} is longer than {LONGEST_WAIT.days} days")
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def iso(value: datetime) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ`` (fractions kept only when present), as CloudTrail writes times."""
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"
