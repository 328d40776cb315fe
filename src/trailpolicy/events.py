"""Plain data passed between the pipeline's stages: ``Event`` and ``Observation``.

A source turns CloudTrail records into ``Event``s; the tally folds matching events into
``Observation``s, one per distinct (identity, call, outcome, passed role). Observations are what
survive a run, so memory grows with distinct calls, never with the number of events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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
    account: str | None
    # For AssumedRole sessions: the role (``arn:...:iam::A:role/path/Name``) the session came from.
    session_issuer_arn: str | None = None
    user_name: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One CloudTrail record, reduced to what the pipeline needs."""

    event_source: str
    event_name: str
    event_time: datetime
    event_type: str | None
    region: str | None
    account: str | None
    principal: Principal
    error_code: str | None
    request_parameters: dict | None
    management_event: bool = True

    @property
    def denied(self) -> bool:
        return is_denied(self.error_code)


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
        return Principal(None, None, None)
    issuer = None
    context = identity.get("sessionContext")
    if isinstance(context, dict):
        issuer_obj = context.get("sessionIssuer")
        if isinstance(issuer_obj, dict):
            issuer = issuer_obj.get("arn")
    return Principal(
        type=identity.get("type"),
        arn=identity.get("arn"),
        account=identity.get("accountId"),
        session_issuer_arn=issuer,
        user_name=identity.get("userName"),
    )


def event_from_record(record: dict) -> Event:
    """Build an Event from one CloudTrail record (as in a log file's ``Records``)."""
    if not isinstance(record, dict):
        raise BadRecord("a record is not a JSON object")
    try:
        source = record["eventSource"]
        name = record["eventName"]
        time_text = record["eventTime"]
    except KeyError as exc:
        raise BadRecord(f"a record has no {exc.args[0]}") from None
    if not isinstance(source, str) or not isinstance(name, str):
        raise BadRecord("a record's eventSource or eventName is not text")
    params = record.get("requestParameters")
    return Event(
        event_source=source,
        event_name=name,
        event_time=parse_time(time_text),
        event_type=record.get("eventType"),
        region=record.get("awsRegion"),
        account=record.get("recipientAccountId"),
        principal=principal_of(record.get("userIdentity")),
        error_code=record.get("errorCode"),
        request_parameters=params if isinstance(params, dict) else None,
        management_event=record.get("managementEvent", True) is not False,
    )


@dataclass(frozen=True, slots=True)
class CallKey:
    """What distinguishes one observation from another for one identity."""

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
