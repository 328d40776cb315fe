"""Folding events into observations, and counting everything that did not become one.

A ``Tally`` is what a source hands to the rest of the pipeline. It holds one ``Observation`` per
distinct (identity, call) and a count for every event left out, with the reason, so that the
report can account for every record read. Tallies merge, which lets sources read files in
parallel worker processes and combine the small results.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from . import globalservices, mapping
from .events import DENIED_ERROR_CODES, BadRecord, CallKey, Event, Observation, parse_time
from .identity import IdentityMatcher
from .query import Query

# Reasons an event read from a source is not in scope (counted, never silently dropped).
BEFORE_START = "before --start-time"
AFTER_END = "after --end-time"
OTHER_REGION = "region not asked for"
GLOBAL_OTHER_REGION = "region not asked for: a global service, recorded in the partition's global region (us-east-1)"
OTHER_IDENTITY = "identity not asked for"
NO_IDENTITY = "no identity ARN (AWS service, anonymous or malformed principal)"


@dataclass
class Tally:
    observations: dict[tuple[str, CallKey], Observation] = field(default_factory=dict)
    events_read: int = 0
    events_matched: int = 0
    out_of_scope: Counter = field(default_factory=Counter)
    # Principal types of in-scope events that carried no usable identity ARN.
    unidentified: Counter = field(default_factory=Counter)
    # Inputs that could not be read: {"input": name, "reason": text}; the run goes on without them.
    bad_inputs: list[dict] = field(default_factory=list)
    # What each source could see: {"kind": ..., "data_events": bool, ...}.
    sources: list[dict] = field(default_factory=list)
    # Sources may say what they could not read (missing lanes with --allow-partial, ...).
    gaps: list[dict] = field(default_factory=list)

    def first_sight(self, identity: str, call: CallKey, when: datetime, region: str | None,
                    account: str | None, data_event: bool) -> None:
        """Start the observation of a call not seen before for this identity (Collector.add
        counts the repeats in place)."""
        self.observations[(identity, call)] = Observation(
            identity=identity,
            call=call,
            count=1,
            first_seen=when,
            last_seen=when,
            data_event=data_event,
            regions={region} if region else set(),
            accounts={account} if account else set(),
        )

    def add_observation(self, observation: Observation) -> None:
        """Add a pre-aggregated observation (sources that aggregate server-side)."""
        self._fold(observation)
        self.events_read += observation.count
        self.events_matched += observation.count

    def merge(self, other: Tally) -> None:
        for observation in other.observations.values():
            self._fold(observation)
        self.events_read += other.events_read
        self.events_matched += other.events_matched
        self.out_of_scope.update(other.out_of_scope)
        self.unidentified.update(other.unidentified)
        self.bad_inputs.extend(other.bad_inputs)
        self.sources.extend(other.sources)
        self.gaps.extend(other.gaps)

    def _fold(self, observation: Observation) -> None:
        key = (observation.identity, observation.call)
        seen = self.observations.get(key)
        if seen is None:
            self.observations[key] = observation
        else:
            seen.merge(observation)

    def identities(self) -> list[str]:
        return sorted({identity for identity, _ in self.observations})

    @property
    def regions(self) -> set[str]:
        """Regions of the events in scope (derived: the per-event loop need not track it)."""
        return set().union(*(o.regions for o in self.observations.values()))

    @property
    def accounts(self) -> set[str]:
        """Accounts (recipientAccountId) of the events in scope."""
        return set().union(*(o.accounts for o in self.observations.values()))


class Collector:
    """Applies a Query to CloudTrail records one at a time and records them in a Tally.

    This is the one place that decides whether an event is in scope, so every source filters
    alike (window, region, identity) and counts what it leaves out. It reads fields straight
    from the record: it runs once per event, and a run should cost little more than parsing.
    """

    def __init__(self, query: Query, tally: Tally | None = None) -> None:
        self.query = query
        self.tally = tally if tally is not None else Tally()
        self._regions = frozenset(query.regions)
        self._matcher = IdentityMatcher(query.identities)

    def add(self, records: Iterable[Event]) -> None:
        """Count records; raises BadRecord (naming the record's position) for an unusable one.

        Takes a batch (a log file, an API page) so that the per-event loop runs with its state in
        local variables: this loop is most of a run's Python time.
        """
        tally = self.tally
        start, end = self.query.start, self.query.end
        regions = self._regions
        owners_of = self._matcher.owners_of
        asked = bool(self.query.identities)
        first_sight = tally.first_sight
        observations = tally.observations
        scope = tally.out_of_scope
        passed_roles = mapping.passed_roles
        global_sources = globalservices.event_sources()
        read = matched = 0
        try:
            for read, record in enumerate(records, 1):
                try:
                    source = record["eventSource"]
                    name = record["eventName"]
                    when = parse_time(record["eventTime"])
                except KeyError as exc:
                    raise BadRecord(f"record {read}: no {exc.args[0]}") from None
                except TypeError:
                    raise BadRecord(f"record {read}: not a JSON object") from None
                except BadRecord as exc:
                    raise BadRecord(f"record {read}: {exc}") from None
                if source.__class__ is not str or name.__class__ is not str:
                    raise BadRecord(f"record {read}: eventSource or eventName is not text")
                region = record.get("awsRegion")
                account = record.get("recipientAccountId")
                kind = record.get("eventType")
                error = record.get("errorCode")
                if not (
                    (region is None or region.__class__ is str)
                    and (account is None or account.__class__ is str)
                    and (kind is None or kind.__class__ is str)
                    and (error is None or error.__class__ is str)
                ):
                    raise BadRecord(f"record {read}: awsRegion, recipientAccountId, eventType or errorCode is not text")
                if when < start:
                    scope[BEFORE_START] += 1
                    continue
                if when > end:
                    scope[AFTER_END] += 1
                    continue
                if regions and region not in regions:
                    scope[GLOBAL_OTHER_REGION if source in global_sources else OTHER_REGION] += 1
                    continue
                identity = record.get("userIdentity")
                try:
                    owners = owners_of(identity)
                except BadRecord as exc:
                    raise BadRecord(f"record {read}: {exc}") from None
                if not owners:
                    if asked:
                        scope[OTHER_IDENTITY] += 1
                    else:
                        scope[NO_IDENTITY] += 1
                        principal = identity.get("type") if identity.__class__ is dict else None
                        tally.unidentified[principal if principal.__class__ is str else "(none)"] += 1
                    continue
                params = record.get("requestParameters")
                # A plain tuple equal to (and hashing as) the CallKey it becomes on first sight.
                call = (
                    source,
                    name,
                    kind,
                    error is not None and error in DENIED_ERROR_CODES,
                    passed_roles(source, name, params) if params.__class__ is dict and params else _NO_ROLES,
                )
                matched += 1
                for owner in owners:
                    seen = observations.get((owner, call))
                    if seen is None:
                        first_sight(owner, CallKey._make(call), when, region, account,
                                    record.get("managementEvent", True) is False)
                        continue
                    seen.count += 1
                    if when < seen.first_seen:
                        seen.first_seen = when
                    elif when > seen.last_seen:
                        seen.last_seen = when
                    if region and region not in seen.regions:
                        seen.regions.add(region)
                    if account and account not in seen.accounts:
                        seen.accounts.add(account)
        finally:
            tally.events_read += read
            tally.events_matched += matched


_NO_ROLES: frozenset[str] = frozenset()
