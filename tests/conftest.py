"""Shared test helpers: the real datasets, and running the installed CLI as users do."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DATASETS = ROOT.parent / "shared" / "datasets" / "cloudtrail"
BERT_JAN = "arn:aws:iam::123837392027:user/bert-jan"


@pytest.fixture(scope="module")
def moto_server():
    """moto in server mode on 127.0.0.1 (tests/fakes/moto.py), one per test module."""
    from .fakes.moto import MotoServer

    with MotoServer() as server:
        yield server


@pytest.fixture
def moto(moto_server):
    """The module's moto server with every backend reset, so tests do not see each other's state."""
    moto_server.reset()
    yield moto_server


def dataset(name: str) -> Path:
    path = DATASETS / f"{name}.json.gz"
    if not path.exists():
        pytest.skip(f"dataset {path} not present")
    return path


def records(name: str) -> list[dict]:
    return json.loads(gzip.decompress(dataset(name).read_bytes()))["Records"]


def cli_env(**extra: str) -> dict[str, str]:
    """An environment with no real AWS credentials or endpoints leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_", "INPUT_", "ACTIONS_"))}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"})
    env.update(extra)
    return env


def run_cli(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None,
            cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``trailpolicy`` in a subprocess, exactly as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "trailpolicy.cli", *args],
        input=stdin, capture_output=True, env=env or cli_env(), cwd=cwd or ROOT, timeout=timeout,
    )


def write_log(path: Path, recs: list[dict], gz: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"Records": recs}).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def record(name: str = "DescribeInstances", source: str = "ec2.amazonaws.com", time: str = "2024-05-01T12:00:00Z",
           arn: str = "arn:aws:iam::111122223333:user/alice", region: str = "us-east-1", **extra) -> dict:
    """A minimal, realistic CloudTrail record for an IAM user (or the identity ``extra`` gives)."""
    identity = extra.pop("userIdentity", None) or {
        "type": "IAMUser", "arn": arn, "accountId": arn.split(":")[4], "userName": arn.rsplit("/", 1)[-1],
    }
    rec = {
        "eventVersion": "1.08", "userIdentity": identity, "eventTime": time, "eventSource": source,
        "eventName": name, "awsRegion": region, "eventType": "AwsApiCall", "managementEvent": True,
        "recipientAccountId": identity.get("accountId", "111122223333"), "requestParameters": None,
    }
    rec.update(extra)
    return rec


def session_identity(role: str = "Deployer", session: str = "ci-1", account: str = "111122223333",
                     path: str = "/", partition: str = "aws") -> dict:
    return {
        "type": "AssumedRole",
        "arn": f"arn:{partition}:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "sessionContext": {"sessionIssuer": {
            "type": "Role", "arn": f"arn:{partition}:iam::{account}:role{path}{role}",
            "accountId": account, "userName": role}},
    }
