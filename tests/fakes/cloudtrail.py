"""A fake CloudTrail LookupEvents endpoint on 127.0.0.1, speaking AWS JSON 1.1.

moto does not implement LookupEvents, and the lookup source is the default source of
``trailpolicy generate``, so its paging, filtering, throttling and per-account/region
behaviour must be tested against something that answers like CloudTrail does.  This
server does exactly that for one operation and nothing else; boto3 reaches it through
``endpoint_url=ct.url`` or, for a whole CLI process, ``AWS_ENDPOINT_URL_CLOUDTRAIL``
(or ``AWS_ENDPOINT_URL`` together with ``forward_to`` so that every other service's
calls go on to moto).

Semantics kept from the real API (CloudTrail API reference, LookupEvents):

* Events newest first; pages of ``MaxResults`` (1..50, default 50); ``NextToken`` absent
  on the last page; a token is opaque and only valid with the same parameters it was
  issued for (``InvalidNextTokenException`` otherwise).
* ``StartTime`` and ``EndTime`` are inclusive; start after end is
  ``InvalidTimeRangeException``.
* At most one lookup attribute (``InvalidLookupAttributesException`` for more, or for an
  unknown key).
* Rate limit per account and Region (the real limit is 2 requests/second/account/Region)
  answered with HTTP 400 ``ThrottlingException`` / ``Rate exceeded``.
* The account comes from the signing access key, the Region from the SigV4 credential
  scope, as with the real service: the same key pair in two Regions is two lanes.

Not modelled: the 90-day window, Insights events (``EventCategory=insight`` returns no
events), and CloudTrail's own derivation of ``Resources`` from request parameters (the
fake takes them from the record's ``resources`` element unless given explicitly).
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import hashlib
import http.client
import json
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from ._loopback import LOOPBACK_HOSTS, LoopbackServer

TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
LOOKUP_EVENTS_TARGET = TARGET_PREFIX + "LookupEvents"
JSON_11 = "application/x-amz-json-1.1"
DEFAULT_ACCOUNT = (
    "123456789012"  # moto's DEFAULT_ACCOUNT_ID, so unknown keys agree with moto
)
LOOKUP_ATTRIBUTE_KEYS = frozenset(
    {
        "EventId",
        "EventName",
        "ReadOnly",
        "Username",
        "ResourceType",
        "ResourceName",
        "EventSource",
        "AccessKeyId",
    }
)
MAX_PAGE = 50

_CREDENTIAL_RE = re.compile(
    r"Credential=([^/\s,]+)/(\d{8})/([^/\s,]+)/([^/\s,]+)/aws4_request"
)

Lane = tuple[str, str]  # (account, region)


# --------------------------------------------------------------------------- records


def lookup_username(record: Mapping[str, Any]) -> str | None:
    """The ``Username`` that LookupEvents reports for a CloudTrail record.

    CloudTrail's event history shows the IAM user name for IAM users, the *session name*
    (not the role name) for assumed-role sessions, ``root`` for the account root user and
    the federated user's name for ``GetFederationToken`` sessions; service-invoked events
    carry no user name.  Identity matching in the product must therefore not rely on the
    ``Username`` lookup attribute alone for roles, and this fake must reproduce that.
    """
    identity = record.get("userIdentity") or {}
    kind = identity.get("type")
    arn = identity.get("arn") or ""
    if kind == "Root":
        return "root"
    if kind == "AssumedRole":
        # arn:aws:sts::A:assumed-role/RoleName/SessionName -> SessionName
        if "/" in arn:
            return arn.rsplit("/", 1)[1]
        principal = identity.get("principalId") or ""
        return principal.split(":", 1)[1] if ":" in principal else None
    if kind == "FederatedUser":
        # arn:aws:sts::A:federated-user/Name -> Name
        if "/" in arn:
            return arn.rsplit("/", 1)[1]
        principal = identity.get("principalId") or ""
        return principal.split(":", 1)[1] if ":" in principal else None
    if kind == "AWSService":
        return None
    if identity.get("userName"):
        return str(identity["userName"])
    if "/" in arn:
        return arn.rsplit("/", 1)[1]
    return None


def _parse_time(value: Any) -> float:
    """Epoch seconds from a record's ISO 8601 ``eventTime`` or a request's timestamp.

    botocore sends JSON-protocol timestamps as epoch numbers, other clients may send ISO
    strings; both are accepted so that the fake is not stricter than the service.
    """
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return dt.timestamp()
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


@dataclasses.dataclass(frozen=True)
class StoredEvent:
    """One event as LookupEvents sees it, with the sort key it is paged by."""

    seq: int
    event_time: float
    record: Mapping[str, Any]
    event_id: str
    username: str | None
    resources: tuple[tuple[str | None, str | None], ...]

    @property
    def sort_key(self) -> tuple[float, int]:
        """Newest first; among equal times, the later-added first (stable paging)."""
        return (self.event_time, self.seq)

    def matches(self, key: str, value: str) -> bool:
        """Whether this event passes the one lookup attribute (exact match, as the API)."""
        rec = self.record
        ident = rec.get("userIdentity") or {}
        if key == "EventId":
            return self.event_id == value
        if key == "EventName":
            return rec.get("eventName") == value
        if key == "EventSource":
            return rec.get("eventSource") == value
        if key == "Username":
            return self.username == value
        if key == "AccessKeyId":
            return ident.get("accessKeyId") == value
        if key == "ReadOnly":
            return _read_only(rec) == value
        if key == "ResourceType":
            return any(rtype == value for rtype, _ in self.resources)
        if key == "ResourceName":
            return any(rname == value for _, rname in self.resources)
        return False

    def to_wire(self) -> dict[str, Any]:
        """The ``Event`` structure of a LookupEvents response."""
        rec = self.record
        out: dict[str, Any] = {"EventId": self.event_id}
        if rec.get("eventName") is not None:
            out["EventName"] = rec["eventName"]
        read_only = _read_only(rec)
        if read_only is not None:
            out["ReadOnly"] = read_only
        key_id = (rec.get("userIdentity") or {}).get("accessKeyId")
        if key_id:
            out["AccessKeyId"] = key_id
        out["EventTime"] = self.event_time
        if rec.get("eventSource") is not None:
            out["EventSource"] = rec["eventSource"]
        if self.username is not None:
            out["Username"] = self.username
        out["Resources"] = [
            {
                k: v
                for k, v in (("ResourceType", t), ("ResourceName", n))
                if v is not None
            }
            for t, n in self.resources
        ]
        out["CloudTrailEvent"] = json.dumps(rec, separators=(",", ":"))
        return out


def _read_only(record: Mapping[str, Any]) -> str | None:
    """LookupEvents reports ``ReadOnly`` as the strings "true"/"false", not a boolean."""
    value = record.get("readOnly")
    if value is None:
        return None
    if isinstance(value, str):
        return value.lower()
    return "true" if value else "false"


def _resources_of(
    record: Mapping[str, Any],
) -> tuple[tuple[str | None, str | None], ...]:
    out = []
    for res in record.get("resources") or []:
        if isinstance(res, Mapping):
            out.append((res.get("type"), res.get("ARN") or res.get("arn")))
    return tuple(out)


# --------------------------------------------------------------------------- requests


@dataclasses.dataclass(frozen=True)
class LookupRequest:
    """What the fake saw and answered, for tests to assert on (API calls, throttles).

    ``status`` is the HTTP status; ``error`` the ``__type`` of an error answer;
    ``attribute`` the (key, value) lookup attribute if any; ``next_token`` the token the
    client sent and ``returned_token`` the one it got back.
    """

    time: float
    account: str
    region: str
    access_key_id: str | None
    target: str | None
    attribute: tuple[str, str] | None
    start_time: float | None
    end_time: float | None
    max_results: int | None
    next_token: str | None
    status: int
    error: str | None = None
    event_count: int = 0
    returned_token: str | None = None

    @property
    def lane(self) -> Lane:
        return (self.account, self.region)

    @property
    def throttled(self) -> bool:
        return self.error == "ThrottlingException"


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class SlidingWindowLimiter:
    """At most ``limit`` admitted requests in any ``window``-second span, per lane.

    A sliding window rather than a token bucket because it is the stricter reading of
    "N requests per second": a client that paces itself to pass this passes the real
    service too, while a token bucket would let a burst of 2 plus a refill through
    within one second.  Throttled requests do not count against the window, so a client
    that backs off recovers as soon as the window has moved on.

    ``rate`` requests/second maps to ``limit = max(1, floor(rate))`` per
    ``window = limit / rate`` seconds (2.0 -> 2 per 1 s; 0.5 -> 1 per 2 s).
    """

    def __init__(
        self, rate: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive (use rate=None to disable)")
        self.rate = rate
        self.limit = max(1, math.floor(rate))
        self.window = self.limit / rate
        self._clock = clock
        self._admitted: dict[Lane, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )

    def admit(self, lane: Lane) -> bool:
        """Record and admit the request if the lane has room; the caller holds the lock."""
        now = self._clock()
        q = self._admitted[lane]
        while q and now - q[0] >= self.window:
            q.popleft()
        if len(q) >= self.limit:
            return False
        q.append(now)
        return True


AccountResolver = Callable[[str], "str | None"]


def moto_account_for_key(access_key_id: str) -> str | None:
    """The account that moto (running in this process) issued ``access_key_id`` in.

    Temporary keys from moto's STS AssumeRole / AssumeRoleWithWebIdentity are stored in
    ``iam_backends[account][partition].access_keys`` of the *role's* account (moto's
    ``moto.iam.models.get_account_id_from`` walks the same structure but answers the
    default account for unknown keys, which would hide "not found").  IAM users' long-term
    keys are found through their users.  Returns None when moto is not imported in this
    process or does not know the key.
    """
    import sys

    if "moto.iam.models" not in sys.modules:
        return None
    from moto.iam.models import iam_backends  # local: moto is a test-only dependency

    for account_id, account in list(iam_backends.items()):
        for partition in list(account.keys()):
            backend = account[partition]
            if access_key_id in getattr(backend, "access_keys", {}):
                return str(account_id)
            for user in list(getattr(backend, "users", {}).values()):
                for key in list(getattr(user, "access_keys", [])):
                    if getattr(key, "access_key_id", None) == access_key_id:
                        return str(account_id)
    return None


# --------------------------------------------------------------------------- server


class FakeCloudTrail(LoopbackServer):
    """A LookupEvents server on 127.0.0.1 with per-(account, region) event lanes.

    Usage::

        with FakeCloudTrail(rate=2.0) as ct:
            ct.accounts["AKIAEXAMPLE"] = "111111111111"
            ct.add_records("111111111111", "us-east-1", records)
            client = boto3.client("cloudtrail", region_name="us-east-1", endpoint_url=ct.url)

    Knobs (all settable while running): ``rate`` (None = unlimited), ``throttle_fraction``
    with ``seed`` (random throttling on top of the rate limit), ``latency`` (seconds slept
    per request), ``fail_lane()`` (HTTP 500 ``InternalFailure`` for one lane),
    ``accounts`` (access key id -> account), ``default_account``.
    """

    thread_prefix = "fake-cloudtrail"

    def __init__(
        self,
        *,
        rate: float | None = 2.0,
        throttle_fraction: float = 0.0,
        seed: int | None = 0,
        latency: float = 0.0,
        accounts: Mapping[str, str] | None = None,
        default_account: str = DEFAULT_ACCOUNT,
        account_resolver: AccountResolver | None = moto_account_for_key,
        forward_to: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """``forward_to`` (a loopback URL, e.g. a moto server) receives every request that
        is not signed for the ``cloudtrail`` service, so a process given a single
        ``AWS_ENDPOINT_URL`` can still reach STS/S3/... in moto."""
        super().__init__(host, port)
        if (
            forward_to is not None
            and urlsplit(forward_to).hostname not in LOOPBACK_HOSTS
        ):
            raise ValueError("forward_to must be a loopback URL")
        self._lock = threading.RLock()
        self._limiter: SlidingWindowLimiter | None = None
        self.rate = rate
        self.throttle_fraction = throttle_fraction
        self._random = random.Random(seed)
        self.latency = latency
        self.accounts: dict[str, str] = dict(accounts or {})
        self.default_account = default_account
        self.account_resolver = account_resolver
        self.forward_to = forward_to.rstrip("/") if forward_to else None
        self.failing_lanes: set[Lane] = set()
        self.requests: list[LookupRequest] = []
        self._events: dict[Lane, list[StoredEvent]] = collections.defaultdict(list)
        self._seq = 0
        self._token_secret = uuid.uuid4().hex
        self._bind(_make_handler(self))

    # -- lifecycle ---------------------------------------------------------------

    @property
    def rate(self) -> float | None:
        return self._rate

    @rate.setter
    def rate(self, value: float | None) -> None:
        with self._lock:
            self._rate = value
            self._limiter = SlidingWindowLimiter(value) if value else None

    def env(self, *, all_services: bool = False) -> dict[str, str]:
        """Environment for a subprocess: the service-specific endpoint variable by default,
        because plain ``AWS_ENDPOINT_URL`` sends *every* service (STS too) here; use
        ``all_services=True`` only together with ``forward_to``."""
        if all_services:
            return {"AWS_ENDPOINT_URL": self.url}
        return {"AWS_ENDPOINT_URL_CLOUDTRAIL": self.url}

    # -- data --------------------------------------------------------------------

    def add_records(
        self,
        account: str | None,
        region: str | None,
        records: Iterable[Mapping[str, Any]],
    ) -> list[str]:
        """Store CloudTrail records (as in a log file's ``Records``) in a lane.

        ``account``/``region`` None take each record's ``recipientAccountId``/``awsRegion``.
        Returns the event ids, generated when a record has no ``eventID``.
        """
        ids = []
        for rec in records:
            ids.append(self.add_record(account, region, rec))
        return ids

    def add_record(
        self,
        account: str | None,
        region: str | None,
        record: Mapping[str, Any],
        *,
        resources: Iterable[tuple[str | None, str | None]] | None = None,
    ) -> str:
        """Store one record; ``resources`` overrides the (ResourceType, ResourceName)
        pairs otherwise taken from the record's ``resources`` element."""
        acct = (
            account
            or record.get("recipientAccountId")
            or (record.get("userIdentity") or {}).get("accountId")
        )
        reg = region or record.get("awsRegion")
        if not acct or not reg:
            raise ValueError(
                "account and region needed (argument or recipientAccountId/awsRegion)"
            )
        record = dict(record)
        event_id = str(record.get("eventID") or uuid.uuid4())
        record.setdefault("eventID", event_id)
        with self._lock:
            self._seq += 1
            ev = StoredEvent(
                seq=self._seq,
                event_time=_parse_time(record["eventTime"]),
                record=record,
                event_id=event_id,
                username=lookup_username(record),
                resources=tuple(resources)
                if resources is not None
                else _resources_of(record),
            )
            self._events[(str(acct), str(reg))].append(ev)
        return event_id

    def clear(self) -> None:
        """Forget events, requests, failing lanes and rate-limit state."""
        with self._lock:
            self._events.clear()
            self.requests.clear()
            self.failing_lanes.clear()
            self.rate = self._rate

    def fail_lane(self, account: str, region: str, failing: bool = True) -> None:
        """Make every request of one (account, region) answer HTTP 500 InternalFailure."""
        with self._lock:
            if failing:
                self.failing_lanes.add((account, region))
            else:
                self.failing_lanes.discard((account, region))

    def requests_for(self, account: str, region: str) -> list[LookupRequest]:
        with self._lock:
            return [r for r in self.requests if r.lane == (account, region)]

    def throttles(self) -> list[LookupRequest]:
        with self._lock:
            return [r for r in self.requests if r.throttled]

    def resolve_account(self, access_key_id: str | None) -> str:
        """access key -> account: the ``accounts`` dict, then the resolver (moto), then
        ``default_account`` (as moto does for keys it never issued)."""
        if access_key_id:
            if access_key_id in self.accounts:
                return self.accounts[access_key_id]
            if self.account_resolver is not None:
                found = self.account_resolver(access_key_id)
                if found:
                    return found
        return self.default_account

    # -- the operation -----------------------------------------------------------

    def _token_for(self, params_digest: str, after: tuple[float, int]) -> str:
        payload = json.dumps(
            {"d": params_digest, "t": after[0], "s": after[1]}
        ).encode()
        mac = hashlib.sha256(self._token_secret.encode() + payload).hexdigest()[:16]
        return (
            base64.urlsafe_b64encode(payload + b"." + mac.encode()).decode().rstrip("=")
        )

    def _cursor_from(self, token: str, params_digest: str) -> tuple[float, int]:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            payload, mac = raw.rsplit(b".", 1)
            good = (
                hashlib.sha256(self._token_secret.encode() + payload)
                .hexdigest()[:16]
                .encode()
            )
            data = json.loads(payload)
            if mac != good or data["d"] != params_digest:
                raise ValueError
            return (float(data["t"]), int(data["s"]))
        except (ValueError, KeyError, TypeError):
            raise _ApiError(
                400, "InvalidNextTokenException", "Invalid NextToken."
            ) from None

    def lookup(
        self, lane: Lane, body: Mapping[str, Any]
    ) -> tuple[dict[str, Any], str | None]:
        """Answer one LookupEvents body for a lane: (response, next token)."""
        attrs = body.get("LookupAttributes") or []
        if not isinstance(attrs, list) or len(attrs) > 1:
            raise _ApiError(
                400,
                "InvalidLookupAttributesException",
                "You cannot specify more than one lookup attribute.",
            )
        attribute: tuple[str, str] | None = None
        if attrs:
            key, value = attrs[0].get("AttributeKey"), attrs[0].get("AttributeValue")
            if (
                key not in LOOKUP_ATTRIBUTE_KEYS
                or not isinstance(value, str)
                or not value
            ):
                raise _ApiError(
                    400,
                    "InvalidLookupAttributesException",
                    f"Invalid lookup attribute: {key}",
                )
            attribute = (key, value)
        max_results = body.get("MaxResults", MAX_PAGE)
        if not isinstance(max_results, int) or not 1 <= max_results <= MAX_PAGE:
            raise _ApiError(
                400,
                "InvalidMaxResultsException",
                "MaxResults must be between 1 and 50.",
            )
        start = (
            _parse_time(body["StartTime"])
            if body.get("StartTime") is not None
            else None
        )
        end = _parse_time(body["EndTime"]) if body.get("EndTime") is not None else None
        if start is not None and end is not None and start > end:
            raise _ApiError(
                400, "InvalidTimeRangeException", "Start time must be before end time."
            )
        category = body.get("EventCategory")
        digest = hashlib.sha256(
            json.dumps([attribute, start, end, category], sort_keys=True).encode()
        ).hexdigest()[:16]
        cursor = (
            self._cursor_from(body["NextToken"], digest)
            if body.get("NextToken")
            else None
        )

        with self._lock:
            events = list(self._events.get(lane, ()))
        if category == "insight":
            events = []  # only management events are held
        selected = [
            ev
            for ev in events
            if (start is None or ev.event_time >= start)
            and (end is None or ev.event_time <= end)
            and (attribute is None or ev.matches(*attribute))
            and (cursor is None or ev.sort_key < cursor)
        ]
        selected.sort(key=lambda ev: ev.sort_key, reverse=True)
        page, rest = selected[:max_results], selected[max_results:]
        response: dict[str, Any] = {"Events": [ev.to_wire() for ev in page]}
        token = self._token_for(digest, page[-1].sort_key) if rest else None
        if token:
            response["NextToken"] = token
        return response, token

    def _handle(
        self, headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Authenticate, limit and answer one request; records it whatever the outcome."""
        target = headers.get("X-Amz-Target")
        match = _CREDENTIAL_RE.search(headers.get("Authorization") or "")
        key_id = match.group(1) if match else None
        region = match.group(3) if match else "us-east-1"
        account = self.resolve_account(key_id)
        lane = (account, region)
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            body = {}
            bad_body = True
        else:
            bad_body = False
        attrs = body.get("LookupAttributes") or []
        attribute = None
        if isinstance(attrs, list) and len(attrs) == 1 and isinstance(attrs[0], dict):
            attribute = (
                str(attrs[0].get("AttributeKey")),
                str(attrs[0].get("AttributeValue")),
            )

        def _opt_time(v: Any) -> float | None:
            try:
                return _parse_time(v) if v is not None else None
            except ValueError:
                return None

        base: dict[str, Any] = dict(
            time=time.time(),
            account=account,
            region=region,
            access_key_id=key_id,
            target=target,
            attribute=attribute,
            start_time=_opt_time(body.get("StartTime")),
            end_time=_opt_time(body.get("EndTime")),
            max_results=body.get("MaxResults")
            if isinstance(body.get("MaxResults"), int)
            else None,
            next_token=body.get("NextToken"),
        )
        if self.latency:
            time.sleep(self.latency)
        try:
            if not match:
                raise _ApiError(
                    400,
                    "MissingAuthenticationTokenException",
                    "Missing Authentication Token",
                )
            if target != LOOKUP_EVENTS_TARGET:
                op = (target or "").rsplit(".", 1)[-1]
                raise _ApiError(
                    400, "UnknownOperationException", f"Operation {op!r} is not faked."
                )
            if bad_body:
                raise _ApiError(
                    400, "SerializationException", "Request body is not a JSON object."
                )
            with self._lock:
                if lane in self.failing_lanes:
                    raise _ApiError(
                        500, "InternalFailure", "The request processing has failed."
                    )
                if (
                    self.throttle_fraction
                    and self._random.random() < self.throttle_fraction
                ):
                    raise _ApiError(400, "ThrottlingException", "Rate exceeded")
                if self._limiter is not None and not self._limiter.admit(lane):
                    raise _ApiError(400, "ThrottlingException", "Rate exceeded")
            response, token = self.lookup(lane, body)
        except _ApiError as err:
            with self._lock:
                self.requests.append(
                    LookupRequest(**base, status=err.status, error=err.code)
                )
            return err.status, {"__type": err.code, "message": err.message}
        with self._lock:
            self.requests.append(
                LookupRequest(
                    **base,
                    status=200,
                    event_count=len(response["Events"]),
                    returned_token=token,
                )
            )
        return 200, response


def _signed_service(headers: Mapping[str, str]) -> str | None:
    match = _CREDENTIAL_RE.search(headers.get("Authorization") or "")
    return match.group(4) if match else None


def _make_handler(fake: FakeCloudTrail) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = (
            "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
        )
        # Headers and body go out in two writes; without TCP_NODELAY the second waits for
        # the client's delayed ACK (~40 ms per request on Linux), which would make paging
        # tests slow and distort any timing around the rate limit.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean; requests are recorded on the fake instead

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(
            self, status: int, payload: bytes, headers: Mapping[str, str]
        ) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _forward(self, raw: bytes) -> None:
            assert fake.forward_to is not None
            parts = urlsplit(fake.forward_to)
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            try:
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("connection",)
                }
                conn.request(self.command, self.path, body=raw or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                hop = ("transfer-encoding", "connection") + (
                    () if self.command == "HEAD" else ("content-length",)
                )
                out = {k: v for k, v in resp.getheaders() if k.lower() not in hop}
                if (
                    self.command == "HEAD"
                ):  # no body, but the upstream Content-Length stands
                    self.send_response(resp.status)
                    for k, v in out.items():
                        self.send_header(k, v)
                    self.end_headers()
                    return
                self._send(resp.status, data, out)
            finally:
                conn.close()

        def _dispatch(self) -> None:
            raw = self._body()
            service = _signed_service(self.headers)
            if fake.forward_to and service not in (None, "cloudtrail"):
                self._forward(raw)
                return
            if self.command != "POST":
                status, payload = (
                    400,
                    {"__type": "UnknownOperationException", "message": "POST / only"},
                )
            else:
                status, payload = fake._handle(self.headers, raw)
            self._send(
                status,
                json.dumps(payload).encode(),
                {"Content-Type": JSON_11, "x-amzn-RequestId": str(uuid.uuid4())},
            )

        do_POST = _dispatch
        do_GET = _dispatch
        do_PUT = _dispatch
        do_DELETE = _dispatch
        do_HEAD = _dispatch
        do_PATCH = _dispatch

    return Handler
