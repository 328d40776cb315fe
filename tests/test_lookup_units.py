"""Pieces of the LookupEvents source without a server: pacing, lane planning, window checks, waiting."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta

import pytest

from trailpolicy.aws import Caller
from trailpolicy.delivery import collect_settled
from trailpolicy.errors import UsageError
from trailpolicy.pacing import TokenBucket, backoff
from trailpolicy.query import build_query
from trailpolicy.sources.lookup import check_window, limits, plan_lanes
from trailpolicy.tally import Tally

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_token_bucket_spaces_requests_at_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(2.0, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(5):
        bucket.acquire()
        times.append(clock.now)
    assert times == [0.0, 0.5, 1.0, 1.5, 2.0]
    clock.now += 10  # idle time does not pile up into a burst beyond ``burst``
    bucket.acquire()
    bucket.acquire()
    assert clock.now == pytest.approx(12.5)


def test_backoff_is_jittered_below_an_exponential_ceiling() -> None:
    rng = random.Random(1)
    for attempt, ceiling in ((1, 0.25), (2, 0.5), (3, 1.0), (10, 5.0)):
        draws = [backoff(attempt, 0.25, 5.0, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws) and max(draws) > ceiling / 2


class StubSessions:
    def __init__(self, region: str | None = "us-east-1", account: str = "111111111111") -> None:
        self.region = region
        self.caller_calls = 0
        self._caller = Caller(account=account, arn=f"arn:aws:iam::{account}:user/me", partition="aws")

    def caller(self) -> Caller:
        self.caller_calls += 1
        return self._caller


def q(*identities: str, regions: tuple[str, ...] = (), role_name: str | None = None):
    return build_query("2024-05-01T00:00:00Z", "2024-05-01T06:00:00Z", list(identities), list(regions), role_name)


def test_lanes_query_by_username_only_where_every_identity_has_one() -> None:
    lanes = plan_lanes(q("arn:aws:iam::111111111111:user/alice",
                         "arn:aws:sts::111111111111:assumed-role/Deployer/ci-1",
                         "arn:aws:iam::222222222222:user/bob",
                         "arn:aws:iam::222222222222:role/Deployer",
                         regions=("us-east-1", "eu-west-1"), role_name="Reader"), StubSessions())
    plan = {(lane.account, lane.region): lane.names for lane in lanes}
    assert plan == {
        ("111111111111", "eu-west-1"): ("alice", "ci-1"), ("111111111111", "us-east-1"): ("alice", "ci-1"),
        ("222222222222", "eu-west-1"): None, ("222222222222", "us-east-1"): None,
    }


def test_lanes_default_to_the_session_region_and_the_callers_account() -> None:
    sessions = StubSessions(region="ap-south-1")
    [lane] = plan_lanes(q(), sessions)
    assert (lane.account, lane.region, lane.names) == ("111111111111", "ap-south-1", None)
    with pytest.raises(UsageError, match="no AWS region"):
        plan_lanes(q(), StubSessions(region=None))


def test_other_accounts_need_a_role_name() -> None:
    with pytest.raises(UsageError, match="account 222222222222 .* --role-name"):
        plan_lanes(q("arn:aws:iam::222222222222:user/bob"), StubSessions())


def test_window_must_be_within_event_history() -> None:
    days = limits()["lookback_days"]
    check_window(q(), NOW)
    old = build_query((NOW - timedelta(days=days, minutes=1)).isoformat(), NOW.isoformat())
    with pytest.raises(UsageError, match="--source s3://"):
        check_window(old, NOW)
    with pytest.raises(UsageError, match="in the future"):
        check_window(q(), NOW - timedelta(days=1))


class GrowingSource:
    """Matching events per read: grows while CloudTrail delivers, then stays."""

    def __init__(self, counts: list[int]) -> None:
        self.counts = counts
        self.reads = 0

    def collect(self, query) -> Tally:
        tally = Tally(events_matched=self.counts[min(self.reads, len(self.counts) - 1)])
        tally.sources.append({"kind": "stub"})
        self.reads += 1
        return tally


def test_waiting_stops_once_no_new_events_arrive_for_the_settle_period() -> None:
    clock, out = Clock(), io.StringIO()
    source = GrowingSource([3, 5, 5, 8, 8, 8, 8, 8, 8])
    tally = collect_settled(source, q("arn:aws:iam::111111111111:user/alice"), timedelta(minutes=15),
                            timedelta(seconds=60), stream=out, clock=clock, sleep=clock.sleep)
    assert tally.events_matched == 8
    # 15 s between reads; the last growth was at read 4 (45 s), so quiet from 45 s to 105 s.
    assert source.reads == 8 and clock.now == pytest.approx(105)
    assert "events of arn:aws:iam::111111111111:user/alice" in out.getvalue()
    assert tally.sources[0]["delivery_wait"]["settled"] is True


def test_waiting_gives_up_after_the_duration_and_says_so() -> None:
    clock, out = Clock(), io.StringIO()
    source = GrowingSource(list(range(100)))
    tally = collect_settled(source, q(), timedelta(seconds=40), timedelta(seconds=60), stream=out, clock=clock,
                            sleep=clock.sleep)
    assert clock.now == pytest.approx(40) and tally.sources[0]["delivery_wait"]["settled"] is False
    assert "warning: stopped waiting after 40s" in out.getvalue()
