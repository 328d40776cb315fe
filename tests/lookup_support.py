"""Helpers for the LookupEvents source tests: the fakes on loopback and recent CloudTrail records.

Test modules import the fixtures by their function names (``fake_cloudtrail`` provides ``ct``,
``aws_env_in_process`` provides ``aws_env``), so that test parameters do not shadow the imports.

The fake CloudTrail runs at a high rate by default so that tests stay fast; the client is told
the same rate through ``TRAILPOLICY_LOOKUP_RATE`` (a knob for tests and private endpoints).
Tests of pacing itself run both at the real 2 requests/second.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import cli_env, record
from .fakes.cloudtrail import DEFAULT_ACCOUNT, FakeCloudTrail
from .fakes.moto import MotoServer

ACCOUNT = DEFAULT_ACCOUNT  # what moto and the fake both say the "testing" key belongs to
OTHER_ACCOUNT = "222222222222"
FAST_RATE = 200.0
# Records are an hour old: inside LookupEvents' 90 days, and clear of "now".
BASE = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)


def at(seconds: float) -> str:
    """An eventTime ``seconds`` after BASE, as CloudTrail writes it."""
    return (BASE + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


WINDOW = ("--start-time", at(-60), "--end-time", at(4000))


def user_arn(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:user/{name}"


def calls(arn: str, names: list[str], n: int, region: str = "us-east-1", source: str = "ec2.amazonaws.com",
          start: int = 0, **extra) -> list[dict]:
    """``n`` records by an IAM user, cycling through ``names``, one second apart."""
    return [record(name=names[i % len(names)], source=source, time=at(start + i), arn=arn, region=region, **extra)
            for i in range(n)]


def lookup_env(ct: FakeCloudTrail, moto: MotoServer, rate: float | None = FAST_RATE, **extra: str) -> dict[str, str]:
    """A CLI environment with CloudTrail at the fake and STS at moto, and nothing else reachable."""
    env = cli_env(AWS_ENDPOINT_URL_CLOUDTRAIL=ct.url, AWS_ENDPOINT_URL_STS=moto.url,
                  AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, **extra)
    if rate is not None:
        env["TRAILPOLICY_LOOKUP_RATE"] = str(rate)
    return env


@pytest.fixture(name="ct")
def fake_cloudtrail() -> Iterator[FakeCloudTrail]:
    with FakeCloudTrail(rate=FAST_RATE) as fake:
        yield fake


@pytest.fixture(name="aws_env")
def aws_env_in_process(ct: FakeCloudTrail, moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The same environment for code run in this process (LookupSource, Sessions)."""
    env = lookup_env(ct, moto)
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith(("AWS_", "TRAILPOLICY_")):
            monkeypatch.setenv(name, value)
    return env
