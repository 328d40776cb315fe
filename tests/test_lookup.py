"""The LookupEvents source against the fake CloudTrail: completeness, identities, throttling, failures."""

from __future__ import annotations

import math

import pytest

from trailpolicy.errors import SourceError
from trailpolicy.pipeline import GenerateOptions, generate
from trailpolicy.query import build_query
from trailpolicy.sources.lookup import LookupSource
from trailpolicy.tally import OTHER_IDENTITY

from .conftest import record, session_identity
from .fakes.cloudtrail import FakeCloudTrail
from .lookup_support import ACCOUNT, WINDOW, at, aws_env_in_process, calls, fake_cloudtrail, user_arn  # noqa: F401

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


def query(*identities: str, regions: tuple[str, ...] = ("us-east-1",), role_name: str | None = None):
    return build_query(WINDOW[1], WINDOW[3], list(identities), list(regions), role_name)


def policies(q, **source_options) -> dict[str, dict]:
    result = generate(GenerateOptions(query=q, progress=False, source_options=source_options))
    return result.documents


def actions(document: dict) -> set[str]:
    return {a for statement in document["Statement"] for a in statement["Action"]}


def test_every_page_of_every_lane_is_read(ct: FakeCloudTrail, aws_env) -> None:
    """Three regions of 520, 1010 and 37 events by many users: every event is read, once."""
    sizes = dict(zip(REGIONS, (520, 1010, 37), strict=True))
    for region, size in sizes.items():
        records = []
        for i in range(size):
            who = user_arn(f"user{i % 7}")
            records += calls(who, ["DescribeInstances", "DescribeVpcs", "DescribeSubnets"], 1, region=region, start=i)
        ct.add_records(ACCOUNT, region, records)
    tally = LookupSource(progress=False).collect(query(regions=REGIONS))
    assert tally.events_read == tally.events_matched == sum(sizes.values())
    source = tally.sources[0]
    assert source["kind"] == "cloudtrail-api" and source["data_events"] is False
    lanes = {row["region"]: row for row in source["lanes"]}
    for region, size in sizes.items():
        assert lanes[region]["pages"] == math.ceil(size / 50)
        assert lanes[region]["events"] == size
        assert lanes[region]["complete"] is True
        assert len(ct.requests_for(ACCOUNT, region)) == lanes[region]["api_calls"]
    assert sorted(tally.identities()) == sorted(user_arn(f"user{i}") for i in range(7))


def test_user_and_session_are_queried_by_username(ct: FakeCloudTrail, aws_env) -> None:
    alice = user_arn("alice")
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/ci-1"
    ct.add_records(ACCOUNT, "us-east-1", calls(alice, ["DescribeInstances"], 120))
    ct.add_records(ACCOUNT, "us-east-1", calls(user_arn("bob"), ["RunInstances"], 300))
    ct.add_records(ACCOUNT, "us-east-1", [
        record(name="CreateBucket", source="s3.amazonaws.com", time=at(i), userIdentity=session_identity(
            role="Deployer", session="ci-1", account=ACCOUNT)) for i in range(60)])
    docs = policies(query(alice, session))
    assert actions(docs[alice]) == {"ec2:DescribeInstances"}
    assert actions(docs[session]) == {"s3:CreateBucket"}
    asked = {r.attribute for r in ct.requests}
    assert asked == {("Username", "alice"), ("Username", "ci-1")}
    # 120 events: 3 pages; 60 events: 2 pages; bob's 300 events are never paged through.
    assert len(ct.requests) == 5


def test_role_arn_matches_every_session_by_scanning(ct: FakeCloudTrail, aws_env) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/Deployer"
    for n, session in enumerate(("ci-1", "ci-2", "laptop")):
        ct.add_records(ACCOUNT, "us-east-1", [
            record(name=name, source="s3.amazonaws.com", time=at(100 * n + i),
                   userIdentity=session_identity(role="Deployer", session=session, account=ACCOUNT))
            for i, name in enumerate(["CreateBucket", "PutBucketPolicy", "GetBucketPolicy"][n:n + 1] * 70)])
    ct.add_records(ACCOUNT, "us-east-1", calls(user_arn("bob"), ["RunInstances"], 80, start=500))
    docs = policies(query(role))
    assert actions(docs[role]) == {"s3:CreateBucket", "s3:PutBucketPolicy", "s3:GetBucketPolicy"}
    assert {r.attribute for r in ct.requests} == {None}


@pytest.mark.parametrize("kind", ["root", "federated-user"])
def test_root_and_federated_users_match_by_arn(ct: FakeCloudTrail, aws_env, kind: str) -> None:
    if kind == "root":
        arn = f"arn:aws:iam::{ACCOUNT}:root"
        identity = {"type": "Root", "arn": arn, "accountId": ACCOUNT}
    else:
        arn = f"arn:aws:sts::{ACCOUNT}:federated-user/fed"
        identity = {"type": "FederatedUser", "arn": arn, "accountId": ACCOUNT,
                    "sessionContext": {"sessionIssuer": {"type": "IAMUser", "arn": user_arn("bob")}}}
    ct.add_records(ACCOUNT, "us-east-1", [record(name="ListUsers", source="iam.amazonaws.com", time=at(i),
                                                userIdentity=identity) for i in range(3)])
    ct.add_records(ACCOUNT, "us-east-1", calls(user_arn("bob"), ["RunInstances"], 5, start=10))
    assert actions(policies(query(arn))[arn]) == {"iam:ListUsers"}


def test_username_results_are_verified_client_side(ct: FakeCloudTrail, aws_env) -> None:
    """A session named like the user shares its Username; its events must not enter the user's policy."""
    deploy = user_arn("deploy")
    ct.add_records(ACCOUNT, "us-east-1", calls(deploy, ["DescribeInstances"], 10))
    ct.add_records(ACCOUNT, "us-east-1", [
        record(name="DeleteBucket", source="s3.amazonaws.com", time=at(50 + i),
               userIdentity=session_identity(role="Other", session="deploy", account=ACCOUNT)) for i in range(4)])
    result = generate(GenerateOptions(query=query(deploy), progress=False))
    assert actions(result.documents[deploy]) == {"ec2:DescribeInstances"}
    assert result.tally.out_of_scope[OTHER_IDENTITY] == 4
    assert result.report["run"]["events"]["read"] == 14


def test_throttling_storm_ends_complete(ct: FakeCloudTrail, aws_env) -> None:
    """Half of all calls throttled at random, on top of the rate limit: every event still arrives."""
    ct.throttle_fraction = 0.5
    for region in REGIONS[:2]:
        ct.add_records(ACCOUNT, region, calls(user_arn("alice"), ["DescribeInstances", "DescribeVpcs"], 600,
                                              region=region))
    tally = LookupSource(progress=False).collect(query(regions=REGIONS[:2]))
    assert tally.events_read == 1200
    source = tally.sources[0]
    assert source["throttles"] == len(ct.throttles()) > 0
    assert source["api_calls"] == source["pages"] + source["throttles"] == len(ct.requests)


def test_failed_lane_fails_the_run_naming_it(ct: FakeCloudTrail, aws_env) -> None:
    ct.add_records(ACCOUNT, "us-east-1", calls(user_arn("alice"), ["DescribeInstances"], 5))
    ct.fail_lane(ACCOUNT, "eu-west-1")
    with pytest.raises(SourceError, match=f"LookupEvents lane {ACCOUNT}/eu-west-1: InternalFailure"):
        LookupSource(progress=False).collect(query(regions=("us-east-1", "eu-west-1")))


def test_allow_partial_lists_the_missing_lane(ct: FakeCloudTrail, aws_env) -> None:
    ct.add_records(ACCOUNT, "us-east-1", calls(user_arn("alice"), ["DescribeInstances"], 5))
    ct.fail_lane(ACCOUNT, "eu-west-1")
    tally = LookupSource(progress=False, allow_partial=True).collect(query(regions=("us-east-1", "eu-west-1")))
    assert tally.events_read == 5
    assert [(g["account"], g["region"]) for g in tally.gaps] == [(ACCOUNT, "eu-west-1")]
    lanes = {row["region"]: row for row in tally.sources[0]["lanes"]}
    assert lanes["eu-west-1"]["complete"] is False and "InternalFailure" in lanes["eu-west-1"]["error"]
    ct.fail_lane(ACCOUNT, "us-east-1")
    with pytest.raises(SourceError, match="no lane could be read"):
        LookupSource(progress=False, allow_partial=True).collect(query(regions=("us-east-1", "eu-west-1")))


def test_repeated_event_ids_count_once_and_bad_events_are_reported() -> None:
    """Across several Username queries of a lane, an event id is counted once; an unreadable
    event is reported as a bad input, never dropped silently, and the rest of its page counts."""
    import json

    from trailpolicy.sources.lookup import Lane, LaneStats
    from trailpolicy.tally import Collector

    collector, stats, seen = Collector(query()), LaneStats(), set()
    lane = Lane(ACCOUNT, "us-east-1", "aws", ("a", "b"))
    first, second = calls(user_arn("a"), ["DescribeVpcs"], 2)
    no_time = {k: v for k, v in first.items() if k != "eventTime"}
    page = [{"EventId": "e1", "CloudTrailEvent": json.dumps(first)},
            {"EventId": "e1", "CloudTrailEvent": json.dumps(first)},
            {"EventId": "e2", "CloudTrailEvent": "{not json"},
            {"EventId": "e3", "CloudTrailEvent": json.dumps(no_time)},
            {"EventId": "e4", "CloudTrailEvent": json.dumps(second)}]
    LookupSource._add(page, lane, collector, stats, seen)
    tally = collector.tally
    assert (stats.events, stats.duplicates) == (4, 1)
    assert (tally.events_read, tally.events_matched) == (4, 2)
    assert [b["input"].rsplit(" ", 1)[-1] for b in tally.bad_inputs] == ["e2", "e3"]
    assert "no eventTime" in tally.bad_inputs[1]["reason"]
