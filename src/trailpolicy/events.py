"""Plain data passed between the pipeline's stages: events and ``Observation``s.

An event is a CloudTrail record exactly as CloudTrail writes it (a dict, as in a log file's
``Records`` or a LookupEvents ``CloudTrailEvent``): every source has records, and reading fields
straight from them is what keeps a run near the speed of parsing. The tally folds matching
events into ``Observation``s, one per distinct (identity, call, outcome, passed role).
Observations are what survive a run, so memory grows with distinct calls, never with events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

Event = dict
"""A CloudTrail record. Required: eventSource, eventName, eventTime; the rest is optional."""


class BadRecord(ValueError):
    """A record that is not a usable CloudTrail event (its file is reported as bad)."""


# Error codes that mean "the caller lacked the permission". Such a call still names a permission
# the identity needs, and is flagged as denied in the report.
DENIED_ERROR_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "Client.UnauthorizedOperation",
        "UnauthorizedOperation",
        "Client.AccessDenied",
        "AuthorizationError",
        "AuthorizationErrorException",
        "UnauthorizedAccess",
        "UnauthorizedException",
        "NotAuthorized",
        "Forbidden",
    }
)


def is_denied(error_code: str | None) -> bool:
    return error_code is not None and error_code in DENIED_ERROR_CODES


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a call, as CloudTrail's ``userIdentity`` says."""

    type: str | None
    arn: str | None
    # For AssumedRole sessions: the role (``arn:...:iam::A:role/path/Name``) the session came from.
    session_issuer_arn: str | None = None


def parse_time(text: str) -> datetime:
    """Parse a CloudTrail ``eventTime`` (ISO 8601, UTC ``Z``); raises BadRecord otherwise."""
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise BadRecord(f"eventTime {text!r} is not an ISO 8601 time") from exc
    if value.tzinfo is None:
        raise BadRecord(f"eventTime {text!r} has no time zone")
    return value


def principal_of(identity: dict | None) -> Principal:
    if not isinstance(identity, dict):
        return _NOBODY
    context = identity.get("sessionContext")
    issuer_obj = context.get("sessionIssuer") if isinstance(context, dict) else None
    return Principal(
        type=identity.get("type"),
        arn=identity.get("arn"),
        session_issuer_arn=issuer_obj.get("arn") if isinstance(issuer_obj, dict) else None,
    )


_NOBODY = Principal(None, None)


class CallKey(NamedTuple):
    """What distinguishes one observation from another for one identity (a tuple: hashed per event)."""

    event_source: str
    event_name: str
    event_type: str | None
    denied: bool
    passed_roles: frozenset[str] = frozenset()


@dataclass(slots=True)
class Observation:
    """How often an identity made one call in the window, and when first and last."""

    identity: str
    call: CallKey
    count: int
    first_seen: datetime
    last_seen: datetime
    data_event: bool = False
    regions: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)

    def merge(self, other: Observation) -> None:
        self.count += other.count
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)
        self.data_event = self.data_event or other.data_event
        self.regions |= other.regions
        self.accounts |= other.accounts
