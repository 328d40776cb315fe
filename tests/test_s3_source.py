"""``--source s3://``: an organization archive in moto (server mode), read by the CLI as users run it.

A recording proxy sits between the CLI and moto so the tests see which keys were fetched and which
prefixes listed: objects outside the window, digests and Insights must never be requested.
"""

from __future__ import annotations

import gzip
import json
import os

import boto3
import pytest

from trailpolicy.errors import UsageError
from trailpolicy.query import build_query
from trailpolicy.sources import s3 as s3_source
from trailpolicy.sources.s3 import S3Source

from .conftest import cli_env, record, run_cli, session_identity
from .fakes.moto import MotoServer
from .fakes.proxy import RecordingProxy

BUCKET = "org-trail"
ORG = "o-abcdefghij"
A, B = "111111111111", "222222222222"
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
DAYS = ("2024-05-01", "2024-05-02", "2024-05-03", "2024-05-04", "2024-05-05", "2024-05-06")
WINDOW = ("--start-time", "2024-05-03T10:00:00Z", "--end-time", "2024-05-03T18:00:00Z")
NEEDED_DAYS = ("2024-05-02", "2024-05-03", "2024-05-04")  # a day either side (layout.days)
DEPLOYER = f"arn:aws:iam::{A}:role/Deployer"


def key(account: str, region: str, day: str, name: str, org: str | None = ORG, folder: str = "CloudTrail") -> str:
    prefix = f"AWSLogs/{org}/" if org else "AWSLogs/"
    return f"{prefix}{account}/{folder}/{region}/{day.replace('-', '/')}/{account}_{folder}_{region}_{day.replace('-', '')}T1200Z_{name}.json.gz"


def gz(records: list[dict]) -> bytes:
    return gzip.compress(json.dumps({"Records": records}).encode())


def archive(org: str | None = ORG) -> dict[str, bytes]:
    """Two accounts, three regions, six days; in-window days hold the calls a policy needs, the
    others hold calls that would show up in the policy if they were ever read."""
    objects: dict[str, bytes] = {}
    for account in (A, B):
        deployer = session_identity("Deployer", "ci-1", account)
        for region in REGIONS:
            for day in DAYS:
                inside = day == "2024-05-03"
                recs = [
                    record("PutObject", "s3.amazonaws.com", f"{day}T12:00:00Z", region=region, userIdentity=deployer,
                           managementEvent=False, eventCategory="Data") if inside else
                    record("TerminateInstances", time=f"{day}T12:00:00Z", region=region, userIdentity=deployer),
                    record("DescribeInstances", time=f"{day}T12:00:00Z", region=region, userIdentity=deployer),
                ]
                objects[key(account, region, day, "log", org)] = gz(recs)
            digest = key(account, region, "2024-05-03", "digest", org, "CloudTrail-Digest")
            objects[digest] = gz([record("ShouldNotBeRead", time="2024-05-03T12:00:00Z")])
            insight = key(account, region, "2024-05-03", "insight", org, "CloudTrail-Insight")
            objects[insight] = gz([record("ShouldNotBeRead", time="2024-05-03T12:00:00Z")])
    objects[f"AWSLogs/{org + '/' if org else ''}{A}/CloudTrail/us-east-1/2024/05/03/notes.txt"] = b"not a log"
    return objects


SINGLE = "single-account-trail"  # the same archive without an organization id
DAMAGED = "damaged-trail"
BROKEN = key(A, "us-east-1", "2024-05-03", "broken")


@pytest.fixture(scope="module")
def moto():
    """One moto for the module, its buckets filled once (the tests only read them)."""
    with MotoServer() as server:
        fill(server, BUCKET, archive())
        fill(server, SINGLE, archive(org=None))
        fill(server, DAMAGED, {key(A, "us-east-1", "2024-05-03", "log"): archive()[key(A, "us-east-1", "2024-05-03", "log")],
                               BROKEN: b"\x1f\x8b" + b"garbage"})
        yield server


@pytest.fixture
def proxy(moto):
    with RecordingProxy(moto.url) as recorder:
        yield recorder


def fill(moto: MotoServer, bucket: str, objects: dict[str, bytes]) -> None:
    client = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=bucket)
    for name, body in objects.items():
        client.put_object(Bucket=bucket, Key=name, Body=body)


def fetched(proxy: RecordingProxy, bucket: str = BUCKET) -> set[str]:
    return {s.path.removeprefix(f"/{bucket}/") for s in proxy.requests("GET") if not s.query and s.path != f"/{bucket}"}


def generate(proxy: RecordingProxy, source: str, *args: str, tmp_path=None):
    out = ("--output-dir", str(tmp_path)) if tmp_path else ()
    return run_cli("generate", "--no-progress", "--source", source, *WINDOW, *args, *out,
                   env=cli_env(AWS_ENDPOINT_URL=proxy.url))


def test_org_archive_reads_only_the_window_and_makes_the_policy(moto, proxy, tmp_path) -> None:
    objects = archive()
    done = generate(proxy, f"s3://{BUCKET}", "--identity", DEPLOYER, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    policy = json.loads(done.stdout)[DEPLOYER]
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions == {"ec2:DescribeInstances", "s3:PutObject"}  # TerminateInstances only on other days

    # Every account under the prefix: the identity's calls are recorded where they were received.
    expected = {key(acc, r, d, "log") for acc in (A, B) for r in REGIONS for d in NEEDED_DAYS}
    assert fetched(proxy) == expected
    listed = {s.query["prefix"][0] for s in proxy.requests("GET") if "list-type" in s.query and "delimiter" not in s.query}
    assert listed == {f"AWSLogs/{ORG}/{acc}/CloudTrail/{r}/{d.replace('-', '/')}/"
                      for acc in (A, B) for r in REGIONS for d in NEEDED_DAYS}

    report = json.loads((tmp_path / "report.json").read_text())
    source = report["run"]["sources"][0]
    assert source["kind"] == "s3" and source["data_events"] is True
    assert source["accounts"] == [A, B] and source["regions"] == sorted(REGIONS)
    assert source["days"] == {"first": "2024-05-02", "last": "2024-05-04"}
    assert (source["objects_listed"], source["files_needed"], source["files_downloaded"]) == (19, 18, 18)
    assert source["bytes_downloaded"] == sum(len(objects[k]) for k in expected)
    assert report["run"]["data_events"]["seen"] == 3  # PutObject in three regions of account A
    events = report["run"]["events"]
    assert events["read"] == 36 and events["in_scope"] == 6
    assert events["out_of_scope"] == {"before --start-time": 12, "after --end-time": 12, "identity not asked for": 6}


def test_region_and_account_options_narrow_the_listing(moto, proxy) -> None:
    done = generate(proxy, f"s3://{BUCKET}/AWSLogs/?account={B}", "--region", "eu-west-1")
    assert done.returncode == 0, done.stderr.decode()
    assert fetched(proxy) == {key(B, "eu-west-1", d, "log") for d in NEEDED_DAYS}
    owners = set(json.loads(done.stdout))
    assert owners == {f"arn:aws:iam::{B}:role/Deployer"}


def test_single_account_layout_without_org_id(moto, proxy) -> None:
    done = generate(proxy, f"s3://{SINGLE}/AWSLogs/{A}/CloudTrail/", "--region", "us-east-1")
    assert done.returncode == 0, done.stderr.decode()
    assert fetched(proxy, SINGLE) == {key(A, "us-east-1", d, "log", None) for d in NEEDED_DAYS}


def test_damaged_object_is_reported_and_the_rest_still_counts(moto, proxy, tmp_path) -> None:
    broken = BROKEN
    done = generate(proxy, f"s3://{DAMAGED}", "--region", "us-east-1", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert f"skipped s3://{DAMAGED}/{broken}" in done.stderr.decode()
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["run"]["sources"][0]["files_read"], report["run"]["sources"][0]["files_bad"]) == (1, 1)
    assert report["run"]["bad_inputs"][0]["input"] == f"s3://{DAMAGED}/{broken}"
    assert report["run"]["events"]["read"] == 2


@pytest.fixture
def aws_env(proxy, monkeypatch):
    """This process's boto3 pointed at moto through the proxy, as the CLI tests' environment is."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in cli_env(AWS_ENDPOINT_URL=proxy.url).items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    return proxy


@pytest.mark.parametrize(("source", "args", "message"), [
    ("s3://no-such-bucket", (), "no such bucket"),
    (f"s3://{BUCKET}?acount=1", (), "unknown option 'acount'"),
])
def test_bad_input_is_one_line_and_exit_2(proxy, source, args, message) -> None:
    done = generate(proxy, source, *args)
    assert done.returncode == 2, done.stderr.decode()
    lines = done.stderr.decode().strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("trailpolicy: error: ") and message in lines[0]
    assert done.stdout == b""


@pytest.mark.parametrize(("source", "regions", "role", "message"), [
    (f"s3://{BUCKET}", ["sa-east-1"], None, "no CloudTrail log files for this window"),
    (f"s3://{BUCKET}?account=333333333333", [], None, r"no CloudTrail delivery folders for account\(s\) 333333333333"),
    (f"s3://{BUCKET}?account=12345", [], None, "not a 12-digit AWS account id"),
    (f"s3://{BUCKET}/AWSLogs/{ORG}/{A}/CloudTrail/us-east-1/", [], None, "at or above <account>/CloudTrail/"),
    (f"s3://{BUCKET}", [], "LogReader", "bucket-account="),
])
def test_what_cannot_be_read_is_a_usage_error(aws_env, source, regions, role, message) -> None:
    query = build_query(WINDOW[1], WINDOW[3], regions=regions, role_name=role)
    with pytest.raises(UsageError, match=message):
        S3Source(source, progress=False).collect(query)
    assert not fetched(aws_env)


def test_role_name_reads_with_the_assumed_role(moto, proxy) -> None:
    done = generate(proxy, f"s3://{BUCKET}?bucket-account={B}", "--role-name", "LogReader", "--region", "us-east-1")
    assert done.returncode == 0, done.stderr.decode()
    assume = [s.body.decode() for s in proxy.requests("POST")]
    assert any("Action=AssumeRole" in body and f"{B}%3Arole%2FLogReader" in body for body in assume)
    gets = [s for s in proxy.requests("GET") if s.path.startswith(f"/{BUCKET}")]
    assert gets and all("Credential=testing/" not in s.authorization and "Credential=ASIA" in s.authorization for s in gets)


def test_worker_processes_give_the_same_tally_as_one_process(aws_env, monkeypatch) -> None:
    query = build_query(WINDOW[1], WINDOW[3])
    one = S3Source(f"s3://{BUCKET}", progress=False, workers=1).collect(query)
    monkeypatch.setattr(s3_source, "PARALLEL_MIN_BYTES", 0)
    many_source = S3Source(f"s3://{BUCKET}", progress=False, workers=2)
    many = many_source.collect(query)
    assert many_source.counts.files_downloaded == 18
    assert many.observations == one.observations and many.observations
    assert (many.events_read, many.out_of_scope) == (one.events_read, one.out_of_scope)
