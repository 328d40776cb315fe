"""Waiting for CloudTrail to deliver a window's events (``--wait-for-events``).

CloudTrail shows an event up to about 15 minutes after the call. Right after a deployment, a
single read would miss the late ones and yield a policy that looks complete but is not. So the
source is read again and again until no new matching event has appeared for a settle period,
or the time the user allowed has passed. Each read is a whole one (late events carry their
original eventTime, anywhere in the window), so the last read is the result and nothing has to
be remembered between reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import TextIO

from . import console
from .query import Query
from .sources import Source
from .tally import Tally
from .timeparse import iso

# Long enough to span CloudTrail's usual delivery gaps, short enough not to dominate a CI job.
DEFAULT_SETTLE = timedelta(minutes=2)
# Reads per settle period, and the longest pause between reads.
POLLS_PER_SETTLE = 4
MAX_POLL = timedelta(seconds=30)


def _seconds(value: timedelta) -> str:
    total = int(value.total_seconds())
    return f"{total // 60}m{total % 60:02d}s" if total >= 60 else f"{value.total_seconds():g}s"


def collect_settled(source: Source, query: Query, wait: timedelta, settle: timedelta = DEFAULT_SETTLE, *,
                    stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> Tally:
    """Read until the matching events stop growing for ``settle``, at most ``wait`` long."""
    deadline = clock() + wait.total_seconds()
    poll = min(settle / POLLS_PER_SETTLE, MAX_POLL).total_seconds()
    who = ", ".join(spec.arn for spec in query.identities) or "every identity"
    console.info(f"waiting for CloudTrail to deliver events of {who} between {iso(query.start)} and "
                 f"{iso(query.end)}: until none new for {_seconds(settle)}, at most {_seconds(wait)}", stream=stream)
    tally = source.collect(query)
    reads, seen, quiet_since = 1, tally.events_matched, clock()
    while True:
        now = clock()
        if now - quiet_since >= settle.total_seconds():
            settled = True
            break
        if now >= deadline:
            settled = False
            break
        console.info(f"waiting: {seen} matching events so far, none new for {now - quiet_since:.0f}s",
                     stream=stream)
        sleep(max(0.0, min(poll, deadline - now, quiet_since + settle.total_seconds() - now)))
        tally = source.collect(query)
        reads += 1
        if tally.events_matched != seen:
            seen, quiet_since = tally.events_matched, clock()
    if settled:
        console.info(f"events settled at {seen} matching after {reads} reads", stream=stream)
    else:
        console.warn(f"stopped waiting after {_seconds(wait)} with {seen} matching events; "
                     "CloudTrail may still deliver more for this window", stream=stream)
    for entry in tally.sources:
        entry["delivery_wait"] = {"reads": reads, "settled": settled, "settle_seconds": settle.total_seconds(),
                                  "wait_seconds": wait.total_seconds()}
    return tally
