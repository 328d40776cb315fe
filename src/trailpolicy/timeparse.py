"""Parsing the times users type: ISO 8601 with ``Z`` or an offset, with or without fractions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from .errors import UsageError

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


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
    return parsed.astimezone(UTC)


def parse_duration(text: str, option: str) -> timedelta:
    """``90s``, ``15m``, ``1h30m`` or a plain number of seconds."""
    value = text.strip().lower()
    if value.isdigit():
        return timedelta(seconds=int(value))
    match = _DURATION.match(value)
    if not value or not match:
        raise UsageError(f"{option} {text!r} is not a duration (e.g. 900, 15m, 1h30m)")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def iso(value: datetime) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ`` (fractions kept only when present), as CloudTrail writes times."""
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"
