"""Folding events into observations, and counting everything that did not become one.

A ``Tally`` is what a source hands to the rest of the pipeline. It holds one ``Observation`` per
distinct (identity, call) and a count for every event left out, with the reason, so that the
report can account for every record read. Tallies merge, which lets sources read files in
parallel worker processes and combine the small results.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from . import mapping
from .events import CallKey, Event, Observation
from .identity import IdentityMatcher
from .query import Query

# Reasons an event read from a source is not in scope (counted, never silently dropped).
BEFORE_START = "before --start-time"
AFTER_END = "after --end-time"
OTHER_REGION = "region not asked for"
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
    regions: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    # Sources may say what they could not read (missing lanes with --allow-partial, ...).
    gaps: list[dict] = field(default_factory=list)

    def observe(self, identity: str, call: CallKey, event: Event) -> None:
        key = (identity, call)
        seen = self.observations.get(key)
        when = event.event_time
        if seen is None:
            self.observations[key] = Observation(
                identity=identity,
                call=call,
                count=1,
                first_seen=when,
                last_seen=when,
                data_event=not event.management_event,
                regions={event.region} if event.region else set(),
                accounts={event.account} if event.account else set(),
            )
            return
        seen.count += 1
        if when < seen.first_seen:
            seen.first_seen = when
        elif when > seen.last_seen:
            seen.last_seen = when
        if event.region:
            seen.regions.add(event.region)
        if event.account:
            seen.accounts.add(event.account)

    def add_observation(self, observation: Observation) -> None:
        """Add a pre-aggregated observation (sources that aggregate server-side)."""
        key = (observation.identity, observation.call)
        seen = self.observations.get(key)
        if seen is None:
            self.observations[key] = observation
        else:
            seen.merge(observation)
        self.events_read += observation.count
        self.events_matched += observation.count
        self.regions |= observation.regions
        self.accounts |= observation.accounts

    def merge(self, other: Tally) -> None:
        for key, observation in other.observations.items():
            seen = self.observations.get(key)
            if seen is None:
                self.observations[key] = observation
            else:
                seen.merge(observation)
        self.events_read += other.events_read
        self.events_matched += other.events_matched
        self.out_of_scope.update(other.out_of_scope)
        self.unidentified.update(other.unidentified)
        self.bad_inputs.extend(other.bad_inputs)
        self.sources.extend(other.sources)
        self.regions |= other.regions
        self.accounts |= other.accounts
        self.gaps.extend(other.gaps)

    def identities(self) -> list[str]:
        return sorted({identity for identity, _ in self.observations})


class Collector:
    """Applies a Query to events one at a time and records them in a Tally.

    This is the one place that decides whether an event is in scope, so every source filters
    alike (window, region, identity) and counts what it leaves out.
    """

    def __init__(self, query: Query, tally: Tally | None = None) -> None:
        self.query = query
        self.tally = tally if tally is not None else Tally()
        self._regions = frozenset(query.regions)
        self._matcher = IdentityMatcher(query.identities)

    def add(self, event: Event) -> None:
        tally = self.tally
        tally.events_read += 1
        when = event.event_time
        if when < self.query.start:
            tally.out_of_scope[BEFORE_START] += 1
            return
        if when > self.query.end:
            tally.out_of_scope[AFTER_END] += 1
            return
        if self._regions and event.region not in self._regions:
            tally.out_of_scope[OTHER_REGION] += 1
            return
        owners = self._matcher.owners(event.principal)
        if not owners:
            if self.query.identities:
                tally.out_of_scope[OTHER_IDENTITY] += 1
            else:
                tally.out_of_scope[NO_IDENTITY] += 1
                tally.unidentified[event.principal.type or "(none)"] += 1
            return
        tally.events_matched += 1
        if event.region:
            tally.regions.add(event.region)
        if event.account:
            tally.accounts.add(event.account)
        call = CallKey(
            event.event_source,
            event.event_name,
            event.event_type,
            event.denied,
            mapping.passed_roles(event.event_source, event.event_name, event.request_parameters),
        )
        for owner in owners:
            tally.observe(owner, call, event)
