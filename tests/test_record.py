"""``trailpolicy record``: runs a command, passes its status through, prints a working generate command."""

from __future__ import annotations

import json
import shlex
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3

from trailpolicy.record import record_window

from .conftest import record, run_cli, session_identity, write_log
from .fakes.cloudtrail import FakeCloudTrail
from .fakes.moto import MotoServer
from .lookup_support import ACCOUNT, fake_cloudtrail, lookup_env  # noqa: F401 - the ct fixture


def iam_user_keys(moto: MotoServer, name: str) -> dict[str, str]:
    iam = boto3.client("iam", endpoint_url=moto.url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def generate_line(stdout: bytes) -> list[str]:
    lines = [line for line in stdout.decode().splitlines() if line.startswith("trailpolicy generate ")]
    assert len(lines) == 1, stdout
    return shlex.split(lines[0])


def test_printed_command_reproduces_the_policy(ct: FakeCloudTrail, moto: MotoServer, tmp_path: Path) -> None:
    env = lookup_env(ct, moto, **iam_user_keys(moto, "deployer"))
    result = run_cli("record", "--region", "us-east-1", "--region", "eu-west-1", "--",
                     sys.executable, "-c", "print('deploying'); raise SystemExit(3)", env=env)
    assert result.returncode == 3, result.stderr.decode()
    assert result.stdout.startswith(b"deploying\n")
    argv = generate_line(result.stdout)
    deployer = f"arn:aws:iam::{ACCOUNT}:user/deployer"
    assert argv[argv.index("--identity") + 1] == deployer
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--region"] == ["us-east-1", "eu-west-1"]

    # CloudTrail delivers what the command did, and what someone else did meanwhile.
    when = (datetime.now(UTC) - timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    records = [record(name=n, source="cloudformation.amazonaws.com", time=when, arn=deployer, region="us-east-1")
               for n in ("CreateStack", "DescribeStacks")]
    records += [record(name="RunInstances", time=when, arn=deployer, region="eu-west-1"),
                record(name="DeleteStack", source="cloudformation.amazonaws.com", time=when,
                       arn=f"arn:aws:iam::{ACCOUNT}:user/someone-else", region="us-east-1")]
    for rec in records:
        ct.add_record(ACCOUNT, rec["awsRegion"], rec)
    generated = run_cli(*argv[1:], env=env)
    assert generated.returncode == 0, generated.stderr.decode()
    from_files = run_cli(*argv[1:], "--source", str(write_log(tmp_path / "trail.json.gz", records)), env=env)
    assert json.loads(generated.stdout) == json.loads(from_files.stdout)
    assert json.loads(generated.stdout)[deployer]["Statement"] == [
        {"Action": ["cloudformation:CreateStack", "cloudformation:DescribeStacks"], "Effect": "Allow",
         "Resource": "*", "Sid": "Cloudformation"},
        {"Action": ["ec2:RunInstances"], "Effect": "Allow", "Resource": "*", "Sid": "Ec2"},
    ]


def test_assumed_role_caller_gets_session_arn_and_role_comment(ct: FakeCloudTrail, moto: MotoServer) -> None:
    sts = boto3.client("sts", endpoint_url=moto.url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/Deployer", RoleSessionName="ci-run")["Credentials"]
    env = lookup_env(ct, moto, AWS_ACCESS_KEY_ID=creds["AccessKeyId"], AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
                     AWS_SESSION_TOKEN=creds["SessionToken"])
    result = run_cli("record", "--", sys.executable, "-c", "pass", env=env)
    assert result.returncode == 0, result.stderr.decode()
    argv = generate_line(result.stdout)
    assert argv[argv.index("--identity") + 1] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/ci-run"
    assert argv[argv.index("--region") + 1] == "us-east-1"  # the session's region
    assert f"# every session of its role: --identity arn:aws:iam::{ACCOUNT}:role/Deployer" in result.stdout.decode()
    # The same session's events, delivered later, make a policy for it.
    ct.add_record(ACCOUNT, "us-east-1", record(
        name="GetRole", source="iam.amazonaws.com", time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        userIdentity=session_identity(role="Deployer", session="ci-run", account=ACCOUNT)))
    generated = run_cli(*argv[1:], env=env)
    assert generated.returncode == 0, generated.stderr.decode()
    assert list(json.loads(generated.stdout).values())[0]["Statement"][0]["Action"] == ["iam:GetRole"]


def test_exit_status_of_the_command_is_passed_through(ct: FakeCloudTrail, moto: MotoServer) -> None:
    env = lookup_env(ct, moto)
    missing = run_cli("record", "--", "no-such-command-here", env=env)
    assert missing.returncode == 127 and b"no-such-command-here: command not found" in missing.stderr
    killed = run_cli("record", "--", sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)",
                     env=env)
    assert killed.returncode == 128 + 15
    nothing = run_cli("record", "--region", "us-east-1", env=env)
    assert nothing.returncode == 2 and b"record needs a command" in nothing.stderr


def test_window_is_whole_minutes_widened_by_one() -> None:
    start = datetime(2024, 5, 1, 12, 0, 41, 500, tzinfo=UTC)
    assert record_window(start, start + timedelta(minutes=3)) == (
        datetime(2024, 5, 1, 11, 59, tzinfo=UTC), datetime(2024, 5, 1, 12, 5, tzinfo=UTC))
    exact = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert record_window(exact, exact) == (exact - timedelta(minutes=1), exact + timedelta(minutes=1))
