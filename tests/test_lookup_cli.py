"""``trailpolicy generate`` with the LookupEvents source, run as a process against the fakes."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3

from .conftest import run_cli
from .fakes.cloudtrail import FakeCloudTrail
from .fakes.moto import MotoServer
from .lookup_support import (  # noqa: F401 - fake_cloudtrail is the ct fixture
    ACCOUNT,
    OTHER_ACCOUNT,
    WINDOW,
    calls,
    fake_cloudtrail,
    lookup_env,
    user_arn,
)

ALICE = user_arn("alice")


def test_failed_lane_exits_1_naming_it(ct: FakeCloudTrail, moto: MotoServer) -> None:
    ct.add_records(ACCOUNT, "us-east-1", calls(ALICE, ["DescribeInstances"], 5))
    ct.fail_lane(ACCOUNT, "eu-west-1")
    result = run_cli("generate", *WINDOW, "--identity", ALICE, "--region", "us-east-1", "--region", "eu-west-1",
                     env=lookup_env(ct, moto))
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    assert f"LookupEvents lane {ACCOUNT}/eu-west-1: InternalFailure" in stderr
    assert "Traceback" not in stderr and result.stdout == b""


def test_allow_partial_names_the_gap_and_data_event_blindness(ct: FakeCloudTrail, moto: MotoServer,
                                                             tmp_path: Path) -> None:
    ct.add_records(ACCOUNT, "us-east-1", calls(ALICE, ["DescribeInstances"], 5))
    ct.fail_lane(ACCOUNT, "eu-west-1")
    result = run_cli("generate", *WINDOW, "--identity", ALICE, "--region", "us-east-1", "--region", "eu-west-1",
                     "--allow-partial", "--output-dir", str(tmp_path), env=lookup_env(ct, moto))
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert f"not read: LookupEvents lane {ACCOUNT}/eu-west-1" in stderr
    assert json.loads(result.stdout)[ALICE]["Statement"][0]["Action"] == ["ec2:DescribeInstances"]
    run = json.loads((tmp_path / "report.json").read_text())["run"]
    assert [(g["account"], g["region"]) for g in run["gaps"]] == [(ACCOUNT, "eu-west-1")]
    assert run["data_events"]["visible"] is False
    assert "data events" in run["sources"][0]["note"]


def test_other_accounts_are_read_through_role_name(ct: FakeCloudTrail, moto: MotoServer) -> None:
    bob = user_arn("bob", OTHER_ACCOUNT)
    ct.add_records(ACCOUNT, "us-east-1", calls(ALICE, ["DescribeInstances"], 60))
    ct.add_records(OTHER_ACCOUNT, "us-east-1", calls(bob, ["GetBucketPolicy"], 70, source="s3.amazonaws.com"))
    args = ("generate", *WINDOW, "--identity", ALICE, "--identity", bob, "--region", "us-east-1")
    refused = run_cli(*args, env=lookup_env(ct, moto))
    assert refused.returncode == 2 and b"--role-name" in refused.stderr
    result = run_cli(*args, "--role-name", "PolicyReader", env=lookup_env(ct, moto))
    assert result.returncode == 0, result.stderr.decode()
    docs = json.loads(result.stdout)
    assert docs[ALICE]["Statement"][0]["Action"] == ["ec2:DescribeInstances"]
    assert docs[bob]["Statement"][0]["Action"] == ["s3:GetBucketPolicy"]
    assert {r.lane for r in ct.requests} == {(ACCOUNT, "us-east-1"), (OTHER_ACCOUNT, "us-east-1")}
    # The other account was read with credentials moto issued for role/PolicyReader there.
    assert {r.access_key_id for r in ct.requests if r.account == OTHER_ACCOUNT} != {"testing"}


def test_window_and_region_are_checked_before_any_call(ct: FakeCloudTrail, moto: MotoServer) -> None:
    env = lookup_env(ct, moto)
    old = (datetime.now(UTC) - timedelta(days=91)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cases = [
        (("--start-time", old, "--end-time", WINDOW[3]), "log archive"),
        (("--start-time", WINDOW[3], "--end-time", WINDOW[1]), "not after"),
        ((*WINDOW, "--region", "mars-1"), "not an AWS region"),
    ]
    for args, message in cases:
        result = run_cli("generate", *args, "--identity", ALICE, env=env)
        assert result.returncode == 2 and message in result.stderr.decode(), result.stderr.decode()
    no_region = {k: v for k, v in env.items() if k != "AWS_DEFAULT_REGION"}
    result = run_cli("generate", *WINDOW, "--identity", ALICE, env=no_region)
    assert result.returncode == 2 and "no AWS region" in result.stderr.decode()
    assert ct.requests == []


def test_real_rate_two_lanes_complete(ct: FakeCloudTrail, moto: MotoServer, tmp_path: Path) -> None:
    """At the real 2 requests/second per lane, on both sides: all pages, and every throttle counted."""
    ct.rate = 2.0
    for region in ("us-east-1", "eu-west-1"):
        ct.add_records(ACCOUNT, region, calls(ALICE, ["DescribeInstances", "DescribeVpcs"], 240, region=region))
    result = run_cli("generate", *WINDOW, "--region", "us-east-1", "--region", "eu-west-1", "--output-dir",
                     str(tmp_path), env=lookup_env(ct, moto, rate=None))
    assert result.returncode == 0, result.stderr.decode()
    source = json.loads((tmp_path / "report.json").read_text())["run"]["sources"][0]
    assert source["rate_per_lane"] == 2.0
    assert [row["pages"] for row in source["lanes"]] == [5, 5]
    assert source["throttles"] == len(ct.throttles())
    assert source["api_calls"] == len(ct.requests)


def test_wait_for_events_reads_until_late_events_settle(ct: FakeCloudTrail, moto: MotoServer) -> None:
    ct.add_records(ACCOUNT, "us-east-1", calls(ALICE, ["DescribeInstances"], 5))

    def deliver_late() -> None:
        while not ct.requests:
            time.sleep(0.05)
        time.sleep(0.5)
        ct.add_records(ACCOUNT, "us-east-1", calls(ALICE, ["RunInstances"], 3, start=100))

    late = threading.Thread(target=deliver_late, daemon=True)
    late.start()
    result = run_cli("generate", *WINDOW, "--identity", ALICE, "--wait-for-events", "60s", "--settle-period", "3s",
                     env=lookup_env(ct, moto))
    late.join(timeout=10)
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert f"waiting for CloudTrail to deliver events of {ALICE}" in stderr
    assert "settled at 8 matching" in stderr
    assert json.loads(result.stdout)[ALICE]["Statement"][0]["Action"] == ["ec2:DescribeInstances", "ec2:RunInstances"]


def test_no_identity_reads_the_callers_account(ct: FakeCloudTrail, moto: MotoServer) -> None:
    """Without --identity the lanes are the caller's own account (STS GetCallerIdentity)."""
    iam = boto3.client("iam", endpoint_url=moto.url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    iam.create_user(UserName="reader")
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    ct.add_records(ACCOUNT, "us-east-1", calls(ALICE, ["DescribeInstances"], 3))
    env = lookup_env(ct, moto, AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
    result = run_cli("generate", *WINDOW, env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert list(json.loads(result.stdout)) == [ALICE]
    assert {r.lane for r in ct.requests} == {(ACCOUNT, "us-east-1")}
