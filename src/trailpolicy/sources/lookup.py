"""CloudTrail's LookupEvents API as a source: every page of every (account, region) lane.

LookupEvents answers 2 requests/second per account and Region, 50 events a page
(``lookup_events.yaml`` has the limits and their source), so a run's wall time is set by its
busiest lane. Lanes therefore run in parallel threads, each paced by its own token bucket at the
documented rate so that throttling is the exception rather than the pacing; botocore's own
retries are off so that its backoff does not fight the bucket, and this module retries
throttling, 5xx and network errors itself with jittered backoff.

Fewer pages: in a lane where every requested identity has a name the ``Username`` lookup
attribute filters on (an IAM user's name, an assumed-role session's session name), one query
per distinct name replaces the scan of everyone's events. Every event still goes through
``Collector.add``, which decides what matches, so the attribute only saves pages and never
decides membership.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import botocore.exceptions
import orjson
from botocore.config import Config

from .. import console
from ..aws import Sessions
from ..errors import SourceError, UsageError
from ..events import BadRecord
from ..identity import IdentitySpec
from ..pacing import TokenBucket, backoff
from ..progress import Progress
from ..query import Query, validate_region
from ..tally import Collector, Tally
from ..timeparse import iso

LIMITS_FILE = Path(__file__).with_name("lookup_events.yaml")

# Requests per second per lane, for tests and private endpoints whose limit differs from AWS's.
RATE_ENV = "TRAILPOLICY_LOOKUP_RATE"

# Retry budgets (our choice): throttling is expected now and then and costs only a short wait,
# so it gets many consecutive attempts; 5xx and network errors get few, so that a broken lane
# fails within seconds instead of minutes.
THROTTLE_ATTEMPTS = 20
ERROR_ATTEMPTS = 5
BACKOFF_BASE = 0.25
BACKOFF_CAP = 5.0
THROTTLE_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"})
NETWORK_ERRORS = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)

# One attempt per call: pacing and retries are this module's job.
CLIENT_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=60)

# Pace this much below the limit: requests spaced exactly 1/rate apart arrive a few milliseconds
# closer now and then (network and scheduling jitter), and a service counting a sliding second
# then throttles one. 3% (15 ms at 2/s) measured throttle-free against the fake; each throttle
# would cost a wasted call and at least one more interval.
PACING_HEADROOM = 0.03

# Lanes mostly sleep in their token bucket; a thread each keeps them all at the rate limit.
MAX_THREADS = 128

DATA_EVENTS_NOTE = (
    "LookupEvents returns management events only: data events (S3 object reads and writes, Lambda "
    "invocations, DynamoDB item calls, ...) are not visible through this API; read the trail's log "
    "files (--source PATH or s3://) to include them"
)


@cache
def limits() -> dict:
    import yaml

    with open(LIMITS_FILE, encoding="utf-8") as f:
        return yaml.safe_load(f)


def lookup_username(spec: IdentitySpec) -> str | None:
    """The ``Username`` LookupEvents reports for this identity's events, when there is one.

    An IAM user's events carry the user name, an assumed-role session's the session name. A role
    ARN stands for any session (whatever their names), so it has none; root and federated users
    are left to the scan too, rather than trusting a name the API reference does not spell out.
    """
    if spec.kind == "user":
        return spec.name
    if spec.kind == "assumed-role":
        return spec.session
    return None


@dataclass(frozen=True, order=True)
class Lane:
    """One (account, region) whose event history is read, and how."""

    account: str
    region: str
    partition: str
    # Username values to query one after another; None: scan the whole window.
    names: tuple[str, ...] | None

    def __str__(self) -> str:
        return f"{self.account}/{self.region}"


@dataclass
class LaneStats:
    pages: int = 0
    api_calls: int = 0
    throttles: int = 0
    errors_retried: int = 0
    events: int = 0
    duplicates: int = 0


class LaneFailed(Exception):
    """A lane could not be read to the end; the message says why."""


class _Stopped(Exception):
    """Another lane failed and the run will fail anyway; this lane stops early."""


def check_window(query: Query, now: datetime) -> None:
    """LookupEvents reaches ``lookback_days`` back; an older window needs the trail's log files."""
    days = limits()["lookback_days"]
    if query.start < now - timedelta(days=days):
        raise UsageError(
            f"--start-time {iso(query.start)} is more than {days} days ago, beyond CloudTrail event history "
            f"(LookupEvents); read the trail's log archive instead with --source s3://BUCKET/PREFIX or --source PATH"
        )
    if query.start > now:
        raise UsageError(f"--start-time {iso(query.start)} is in the future")


def plan_lanes(query: Query, sessions: Sessions) -> list[Lane]:
    """The lanes to read: the identities' accounts (or the caller's) times the regions."""
    regions = query.regions or ((sessions.region,) if sessions.region else ())
    if not regions:
        raise UsageError("no AWS region: pass --region (repeatable) or set AWS_REGION or a profile's region")
    regions = tuple(validate_region(r) for r in regions)
    by_account: dict[tuple[str, str], list[IdentitySpec]] = {}
    if query.identities:
        for spec in query.identities:
            by_account.setdefault((spec.account, spec.partition), []).append(spec)
        if query.role_name is None:
            own = sessions.caller().account
            others = sorted({account for account, _ in by_account if account != own})
            if others:
                raise UsageError(
                    f"--identity names account {', '.join(others)} but the AWS credentials are for account {own}; "
                    "pass --role-name NAME to read other accounts through a role there"
                )
    else:
        caller = sessions.caller()
        by_account[(caller.account, caller.partition)] = []
    return sorted(
        Lane(account, region, partition, _names(specs))
        for (account, partition), specs in by_account.items()
        for region in regions
    )


def _names(specs: list[IdentitySpec]) -> tuple[str, ...] | None:
    names = [lookup_username(spec) for spec in specs]
    if not specs or any(name is None for name in names):
        return None
    return tuple(sorted(set(names)))  # type: ignore[arg-type]


def configured_rate() -> float:
    text = os.environ.get(RATE_ENV)
    if not text:
        return float(limits()["requests_per_second"])
    try:
        rate = float(text)
    except ValueError:
        rate = 0.0
    if not rate > 0:
        raise UsageError(f"{RATE_ENV}={text!r} is not a positive number of requests per second")
    return rate


class LookupSource:
    """Reads a Query's window from LookupEvents in every lane; see the module docstring."""

    def __init__(self, sessions: Sessions | None = None, *, progress: bool = True, allow_partial: bool = False,
                 rate: float | None = None) -> None:
        self.sessions = sessions or Sessions()
        self.progress = progress
        self.allow_partial = allow_partial
        self.rate = rate or configured_rate()
        self.page_size = int(limits()["max_results"])

    def collect(self, query: Query) -> Tally:
        started = time.monotonic()
        check_window(query, datetime.now(UTC))
        lanes = plan_lanes(query, self.sessions)
        clients, failures = self._clients(lanes, query.role_name)
        self._fail_unless_partial(failures, lanes)
        stop = threading.Event()
        progress = _SharedProgress(Progress("reading CloudTrail event history", total=len(lanes), enabled=self.progress))
        done: dict[Lane, tuple[Tally, LaneStats]] = {}
        stats: dict[Lane, LaneStats] = {lane: LaneStats() for lane in lanes}
        try:
            with ThreadPoolExecutor(max_workers=min(MAX_THREADS, max(1, len(clients)))) as pool:
                futures = {
                    pool.submit(self._read_lane, lane, clients[lane], query, stats[lane], stop, progress): lane
                    for lane in lanes if lane in clients
                }
                try:
                    for future in as_completed(futures):
                        lane = futures[future]
                        try:
                            done[lane] = (future.result(), stats[lane])
                        except LaneFailed as exc:
                            failures[lane] = str(exc)
                            if not self.allow_partial:
                                stop.set()
                        except _Stopped:
                            pass
                except BaseException:
                    # An unexpected error or Ctrl-C: stop the other lanes now instead of letting the
                    # pool wait for each to read its whole window.
                    stop.set()
                    raise
        finally:
            progress.close()
        self._fail_unless_partial(failures, lanes)
        tally = Tally()
        for lane in sorted(done):
            tally.merge(done[lane][0])
        for lane, reason in sorted(failures.items()):
            tally.gaps.append({"what": f"LookupEvents lane {lane}", "account": lane.account,
                               "region": lane.region, "reason": reason})
        tally.sources.append(self._describe(lanes, stats, failures))
        if self.progress:
            total = tally.sources[-1]
            console.info(f"LookupEvents: {len(lanes)} lanes, {total['pages']} pages, {total['api_calls']} calls, "
                         f"{total['throttles']} throttled, {time.monotonic() - started:.1f}s")
        return tally

    def _clients(self, lanes: list[Lane], role_name: str | None) -> tuple[dict[Lane, object], dict[Lane, str]]:
        """A CloudTrail client per lane, made here because boto3 sessions are not thread-safe."""
        clients: dict[Lane, object] = {}
        failures: dict[Lane, str] = {}
        for lane in lanes:
            try:
                session = self.sessions.for_account(lane.account, lane.partition, role_name)
            except SourceError as exc:
                failures[lane] = str(exc)
                continue
            clients[lane] = self.sessions.client("cloudtrail", lane.region, session, CLIENT_CONFIG)
        return clients, failures

    def _fail_unless_partial(self, failures: dict[Lane, str], lanes: list[Lane]) -> None:
        if not failures:
            return
        named = "; ".join(f"LookupEvents lane {lane}: {reason}" for lane, reason in sorted(failures.items()))
        if not self.allow_partial:
            raise SourceError(f"{named} (--allow-partial reads the other lanes anyway)")
        if len(failures) == len(lanes):
            raise SourceError(f"no lane could be read: {named}")

    def _read_lane(self, lane: Lane, client, query: Query, stats: LaneStats, stop: threading.Event,
                   progress: _SharedProgress) -> Tally:
        collector = Collector(query)
        bucket = TokenBucket(self.rate * (1 - PACING_HEADROOM))
        names: Iterable[str | None] = lane.names if lane.names is not None else (None,)
        # Distinct names select distinct events, unless the service compares names without case;
        # with more than one query per lane, event ids make sure nothing counts twice.
        seen: set[str] | None = set() if lane.names is not None and len(lane.names) > 1 else None
        for name in names:
            params: dict = {"StartTime": query.start, "EndTime": query.end, "MaxResults": self.page_size}
            if name is not None:
                params["LookupAttributes"] = [{"AttributeKey": "Username", "AttributeValue": name}]
            while True:
                if stop.is_set():
                    raise _Stopped
                page = self._call(client, bucket, params, stats, stop)
                stats.pages += 1
                events = page.get("Events") or []
                self._add(events, lane, collector, stats, seen)
                progress.advance(0, len(events))
                token = page.get("NextToken")
                if not token:
                    break
                params["NextToken"] = token
        progress.advance(1, 0)
        return collector.tally

    def _call(self, client, bucket: TokenBucket, params: dict, stats: LaneStats, stop: threading.Event) -> dict:
        """One page, retried on throttling, 5xx and network errors; LaneFailed when it cannot be had."""
        throttled = failed = 0
        while True:
            bucket.acquire()
            stats.api_calls += 1
            try:
                return client.lookup_events(**params)
            except botocore.exceptions.ClientError as exc:
                error = exc.response.get("Error", {})
                code = error.get("Code", "")
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                reason = f"{code}: {error.get('Message', '')}".rstrip(": ")
                if code in THROTTLE_CODES:
                    stats.throttles += 1
                    throttled += 1
                    attempt, budget = throttled, THROTTLE_ATTEMPTS
                elif status >= 500:
                    stats.errors_retried += 1
                    failed += 1
                    attempt, budget = failed, ERROR_ATTEMPTS
                else:
                    raise LaneFailed(reason) from None
            except NETWORK_ERRORS as exc:
                stats.errors_retried += 1
                failed += 1
                attempt, budget, reason = failed, ERROR_ATTEMPTS, str(exc)
            except botocore.exceptions.BotoCoreError as exc:
                raise LaneFailed(str(exc)) from None
            if attempt >= budget:
                raise LaneFailed(f"{reason} ({attempt} attempts in a row)")
            if stop.wait(backoff(attempt, BACKOFF_BASE, BACKOFF_CAP)):
                raise _Stopped

    @staticmethod
    def _add(items: list[dict], lane: Lane, collector: Collector, stats: LaneStats, seen: set[str] | None) -> None:
        """One page into the lane's Collector; unreadable events are reported, never dropped."""
        tally = collector.tally
        records: list[dict] = []
        ids: list[str | None] = []
        for item in items:
            event_id = item.get("EventId")
            if seen is not None and event_id is not None:
                if event_id in seen:
                    stats.duplicates += 1
                    continue
                seen.add(event_id)
            stats.events += 1
            try:
                records.append(orjson.loads(item["CloudTrailEvent"]))
                ids.append(event_id)
            except (KeyError, TypeError, orjson.JSONDecodeError) as exc:
                tally.events_read += 1
                tally.bad_inputs.append({"input": f"LookupEvents lane {lane} event {event_id}",
                                         "reason": f"CloudTrailEvent is not a JSON record ({exc})"})
        while records:
            before = tally.events_read
            try:
                collector.add(records)
                return
            except BadRecord as exc:
                # Collector counted the records up to and including the bad one; go on after it.
                done = tally.events_read - before
                tally.bad_inputs.append({"input": f"LookupEvents lane {lane} event {ids[done - 1]}",
                                         "reason": str(exc)})
                records, ids = records[done:], ids[done:]

    def _describe(self, lanes: list[Lane], stats: dict[Lane, LaneStats], failures: dict[Lane, str]) -> dict:
        rows = []
        for lane in lanes:
            row = {"account": lane.account, "region": lane.region,
                   "query": "window" if lane.names is None else "Username=" + ",".join(lane.names),
                   "complete": lane not in failures, **asdict(stats[lane])}
            if lane in failures:
                row["error"] = failures[lane]
            rows.append(row)
        return {
            "kind": "cloudtrail-api",
            "api": "LookupEvents",
            "rate_per_lane": self.rate,
            "lanes": rows,
            "pages": sum(s.pages for s in stats.values()),
            "api_calls": sum(s.api_calls for s in stats.values()),
            "throttles": sum(s.throttles for s in stats.values()),
            "data_events": bool(limits()["data_events"]),
            "note": DATA_EVENTS_NOTE,
        }


class _SharedProgress:
    """Progress is single-threaded; lanes report through this lock."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._lock = threading.Lock()

    def advance(self, units: int, events: int) -> None:
        with self._lock:
            self._progress.advance(units, events)

    def close(self) -> None:
        with self._lock:
            self._progress.close()
