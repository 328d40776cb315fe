"""User input: times, regions, role names; every problem is one UsageError line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trailpolicy.errors import UsageError
from trailpolicy.query import build_query
from trailpolicy.timeparse import iso, parse_duration, parse_instant


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00.250Z", datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)),
        ("2024-05-01T07:30:00.5-04:30", datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_instants(text: str, expected: datetime) -> None:
    assert parse_instant(text, "--start-time") == expected


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01T00:00:00Z", "2024-05-01T12:00:00", ""])
def test_bad_instants(text: str) -> None:
    with pytest.raises(UsageError, match="--start-time"):
        parse_instant(text, "--start-time")


def test_iso_round_trip() -> None:
    assert iso(datetime(2024, 5, 1, 12, tzinfo=UTC)) == "2024-05-01T12:00:00Z"
    assert iso(datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)) == "2024-05-01T12:00:00.5Z"


def test_end_before_start() -> None:
    with pytest.raises(UsageError, match="not after"):
        build_query("2024-05-02T00:00:00Z", "2024-05-01T00:00:00Z")
    with pytest.raises(UsageError, match="not after"):
        build_query("2024-05-01T00:00:00Z", "2024-05-01T00:00:00Z")


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-2", "us-gov-west-1", "cn-north-1", "ap-southeast-3"])
def test_regions(region: str) -> None:
    assert build_query("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z", regions=[region]).regions == (region,)


@pytest.mark.parametrize("region", ["us-east", "US-EAST-1", "useast1", "us_east_1", "eu-central-1;rm"])
def test_bad_regions(region: str) -> None:
    with pytest.raises(UsageError, match="not an AWS region"):
        build_query("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z", regions=[region])


def test_duplicates_collapse() -> None:
    q = build_query("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z",
                    identities=["arn:aws:iam::111122223333:user/a"] * 2, regions=["us-east-1", "us-east-1"])
    assert len(q.identities) == 1 and q.regions == ("us-east-1",)


def test_durations() -> None:
    assert parse_duration("900", "--wait-for-events") == timedelta(seconds=900)
    assert parse_duration("1h30m", "--wait-for-events") == timedelta(minutes=90)
    assert parse_duration("15m", "--wait-for-events") == timedelta(minutes=15)
    with pytest.raises(UsageError):
        parse_duration("soon", "--wait-for-events")


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1969-12-31T23:59:59Z",
                                  "9999-06-01T00:00:00Z"])
def test_instants_out_of_range_are_refused(text: str) -> None:
    with pytest.raises(UsageError, match="outside 1970..9998"):
        parse_instant(text, "--end-time")


@pytest.mark.parametrize("text", ["99999999999999999", "99999999999999h", "8d", "169h"])
def test_durations_out_of_range_are_refused(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text, "--wait-for-events")


def test_trailing_newline_is_not_part_of_a_valid_name() -> None:
    with pytest.raises(UsageError, match="--role-name"):
        build_query("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z", role_name="Reader\n")
    with pytest.raises(UsageError, match="not an AWS region"):
        build_query("2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z", regions=["us-east-1\nus-west-2"])
