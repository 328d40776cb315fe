"""The loopback test doubles, exercised through the real clients (boto3, PyGithub).

These tests pin down that the doubles answer the way the real services do, so that the
product's own tests can trust them: if a fake drifts from the protocol, it fails here
rather than letting a product test pass against behaviour AWS or GitHub never show.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from github import Auth, Github, GithubException

try:  # tests/ is not a package: pytest puts tests/ itself on sys.path
    from fakes.cloudtrail import FakeCloudTrail, lookup_username
    from fakes.github import BOT_LOGIN, FakeGitHub
    from fakes.moto import MotoServer
    from fakes.oidc import ISSUER, FakeOIDCProvider
except ImportError:  # pragma: no cover - when run with the project root on sys.path
    from tests.fakes.cloudtrail import FakeCloudTrail, lookup_username
    from tests.fakes.github import BOT_LOGIN, FakeGitHub
    from tests.fakes.moto import MotoServer
    from tests.fakes.oidc import ISSUER, FakeOIDCProvider

REGION = "us-east-1"
ACCOUNT = "111111111111"
NO_RETRY = Config(retries={"total_max_attempts": 1})
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _dummy_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials only, and no shared config/profile that could point elsewhere."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for var in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_CLOUDTRAIL",
        "AWS_ENDPOINT_URL_STS",
    ):
        monkeypatch.delenv(var, raising=False)


def record(
    i: int,
    *,
    user: str = "alice",
    name: str = "GetObject",
    region: str = REGION,
    account: str = ACCOUNT,
    key: str = "AKIAALICE",
) -> dict[str, Any]:
    """A CloudTrail record as in a log file, i seconds after T0."""
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": f"arn:aws:iam::{account}:user/{user}",
            "accountId": account,
            "accessKeyId": key,
            "userName": user,
        },
        "eventTime": (T0 + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "192.0.2.1",
        "userAgent": "test",
        "requestParameters": {"bucketName": "b", "key": f"k{i}"},
        "responseElements": None,
        "requestID": f"req-{i}",
        "eventID": f"00000000-0000-0000-0000-{i:012d}",
        "readOnly": name.startswith(("Get", "List", "Describe")),
        "resources": [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::b/k{i}"}],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": account,
    }


def ct_client(url: str, region: str = REGION, **kwargs: Any) -> Any:
    return boto3.client(
        "cloudtrail", region_name=region, endpoint_url=url, config=NO_RETRY, **kwargs
    )


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


# --------------------------------------------------------------------------- CloudTrail


def test_lookup_pages_120_events_newest_first() -> None:
    records = [record(i, user="alice" if i % 3 else "bob") for i in range(120)]
    with FakeCloudTrail(rate=None) as ct:
        ct.add_records(ACCOUNT, REGION, records)
        ct.accounts["testing"] = ACCOUNT
        client = ct_client(ct.url)

        pages: list[dict[str, Any]] = []
        token = None
        while True:
            resp = client.lookup_events(**({"NextToken": token} if token else {}))
            pages.append(resp)
            token = resp.get("NextToken")
            if not token:
                break

        assert [len(p["Events"]) for p in pages] == [50, 50, 20]
        assert (
            "NextToken" in pages[0]
            and "NextToken" in pages[1]
            and "NextToken" not in pages[2]
        )
        events = [e for p in pages for e in p["Events"]]
        times = [e["EventTime"] for e in events]
        assert times == sorted(times, reverse=True) and len(set(times)) == 120
        assert times[0] == T0 + timedelta(
            seconds=119
        )  # epoch number parsed by botocore
        newest = events[0]
        assert newest["EventId"] == records[119]["eventID"]
        assert json.loads(newest["CloudTrailEvent"]) == records[119]
        assert newest["ReadOnly"] == "true" and newest["AccessKeyId"] == "AKIAALICE"
        assert newest["Resources"] == [
            {"ResourceType": "AWS::S3::Object", "ResourceName": "arn:aws:s3:::b/k119"}
        ]

        # The paginator (what the product uses) with a Username filter and small pages.
        paginator = client.get_paginator("lookup_events")
        bob_pages = list(
            paginator.paginate(
                LookupAttributes=[
                    {"AttributeKey": "Username", "AttributeValue": "bob"}
                ],
                PaginationConfig={"PageSize": 15},
            )
        )
        bob = [e for p in bob_pages for e in p["Events"]]
        assert [len(p["Events"]) for p in bob_pages] == [15, 15, 10]
        assert {e["Username"] for e in bob} == {"bob"}
        assert [e["EventId"] for e in bob] == [
            r["eventID"]
            for r in reversed(records)
            if r["userIdentity"]["userName"] == "bob"
        ]

        sent = [r for r in ct.requests if r.attribute == ("Username", "bob")]
        assert [r.max_results for r in sent] == [15, 15, 15]
        assert (
            sent[0].next_token is None and sent[1].next_token == sent[0].returned_token
        )
        assert all(r.status == 200 and r.lane == (ACCOUNT, REGION) for r in ct.requests)


def test_time_window_is_inclusive_and_validated() -> None:
    with FakeCloudTrail(rate=None) as ct:
        ct.add_records(
            None, None, [record(i) for i in range(10)]
        )  # lane from the records
        ct.accounts["testing"] = ACCOUNT
        client = ct_client(ct.url)
        resp = client.lookup_events(
            StartTime=T0 + timedelta(seconds=2), EndTime=T0 + timedelta(seconds=5)
        )
        assert [e["EventTime"] for e in resp["Events"]] == [
            T0 + timedelta(seconds=s) for s in (5, 4, 3, 2)
        ]

        with pytest.raises(ClientError) as exc:
            client.lookup_events(StartTime=T0 + timedelta(seconds=5), EndTime=T0)
        assert error_code(exc) == "InvalidTimeRangeException"


def test_lookup_attribute_rules() -> None:
    with FakeCloudTrail(rate=None) as ct:
        ct.add_records(
            ACCOUNT,
            REGION,
            [record(i, name="PutObject" if i % 2 else "GetObject") for i in range(6)],
        )
        ct.accounts["testing"] = ACCOUNT
        client = ct_client(ct.url)

        def by(key: str, value: str) -> list[str]:
            resp = client.lookup_events(
                LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}]
            )
            return [e["EventId"] for e in resp["Events"]]

        assert len(by("EventName", "PutObject")) == 3
        assert len(by("ReadOnly", "false")) == 3
        assert by("EventId", record(4)["eventID"]) == [record(4)["eventID"]]
        assert len(by("EventSource", "s3.amazonaws.com")) == 6
        assert by("ResourceName", "arn:aws:s3:::b/k2") == [record(2)["eventID"]]
        assert len(by("ResourceType", "AWS::S3::Object")) == 6
        assert len(by("AccessKeyId", "AKIAALICE")) == 6

        with pytest.raises(ClientError) as exc:
            client.lookup_events(
                LookupAttributes=[
                    {"AttributeKey": "EventName", "AttributeValue": "GetObject"},
                    {"AttributeKey": "Username", "AttributeValue": "alice"},
                ]
            )
        assert error_code(exc) == "InvalidLookupAttributesException"

        # A token is bound to the parameters it was issued for, as the API documents.
        first = client.lookup_events(MaxResults=2)
        with pytest.raises(ClientError) as exc:
            client.lookup_events(
                MaxResults=2,
                NextToken=first["NextToken"],
                LookupAttributes=[
                    {"AttributeKey": "EventName", "AttributeValue": "GetObject"}
                ],
            )
        assert error_code(exc) == "InvalidNextTokenException"


def test_username_as_cloudtrail_reports_it() -> None:
    assumed = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::111111111111:assumed-role/deploy/ci-run-42",
        "principalId": "AROAEXAMPLE:ci-run-42",
        "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "deploy"}},
    }
    assert (
        lookup_username({"userIdentity": assumed}) == "ci-run-42"
    )  # the session, not the role
    assert (
        lookup_username(
            {"userIdentity": {"type": "Root", "arn": "arn:aws:iam::1:root"}}
        )
        == "root"
    )
    assert (
        lookup_username({"userIdentity": {"type": "IAMUser", "userName": "alice"}})
        == "alice"
    )
    fed = {
        "type": "FederatedUser",
        "arn": "arn:aws:sts::1:federated-user/bob",
        "principalId": "1:bob",
    }
    assert lookup_username({"userIdentity": fed}) == "bob"
    assert (
        lookup_username(
            {"userIdentity": {"type": "AWSService", "invokedBy": "s3.amazonaws.com"}}
        )
        is None
    )


def test_throttling_above_rate_per_lane() -> None:
    with FakeCloudTrail(rate=2.0) as ct:
        ct.accounts["testing"] = ACCOUNT
        ct.add_records(ACCOUNT, REGION, [record(1)])
        ct.add_records(ACCOUNT, "eu-west-1", [record(2, region="eu-west-1")])
        east, west = ct_client(ct.url), ct_client(ct.url, region="eu-west-1")

        assert len(east.lookup_events()["Events"]) == 1
        assert len(east.lookup_events()["Events"]) == 1
        with pytest.raises(ClientError) as exc:
            east.lookup_events()
        assert error_code(exc) == "ThrottlingException"
        assert exc.value.response["Error"]["Message"] == "Rate exceeded"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

        # Same key, other Region: a separate lane with its own events and its own budget.
        for _ in range(2):
            (west_event,) = west.lookup_events()["Events"]
            assert json.loads(west_event["CloudTrailEvent"])["awsRegion"] == "eu-west-1"

        assert [(r.region, r.status) for r in ct.requests] == [
            (REGION, 200),
            (REGION, 200),
            (REGION, 400),
            ("eu-west-1", 200),
            ("eu-west-1", 200),
        ]
        assert len(ct.throttles()) == 1 and ct.throttles()[0].lane == (ACCOUNT, REGION)

        # The window slides: a client that waits out one second is served again.
        time.sleep(1.05)
        assert len(east.lookup_events()["Events"]) == 1


def test_botocore_retries_recover_from_throttling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With retries on (the product's setting), botocore classifies the fake's throttle as
    retryable and its backoff gets through the limit.  The backoff is fixed at 0.3 s here
    because its jitter (up to 2**attempt s) would make the test's duration a dice roll."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.3)
    with FakeCloudTrail(rate=2.0) as ct:
        ct.add_records(ct.default_account, REGION, [record(i) for i in range(5)])
        client = boto3.client(
            "cloudtrail",
            endpoint_url=ct.url,
            config=Config(retries={"mode": "standard", "total_max_attempts": 10}),
        )
        for _ in range(3):
            assert len(client.lookup_events()["Events"]) == 5
        statuses = [r.status for r in ct.requests]
        assert statuses.count(200) == 3 and statuses.count(400) >= 1


def test_fault_injection_knobs() -> None:
    with FakeCloudTrail(rate=None, throttle_fraction=0.5, seed=7) as ct:
        client = ct_client(ct.url)
        outcomes = []
        for _ in range(20):
            try:
                client.lookup_events()
                outcomes.append("ok")
            except ClientError as err:
                outcomes.append(err.response["Error"]["Code"])
        assert set(outcomes) == {"ok", "ThrottlingException"}
        assert 4 <= outcomes.count("ThrottlingException") <= 16

    with FakeCloudTrail(
        rate=None, throttle_fraction=0.5, seed=7
    ) as again:  # same seed, same pattern
        client = ct_client(again.url)
        replay = []
        for _ in range(20):
            try:
                client.lookup_events()
                replay.append("ok")
            except ClientError as err:
                replay.append(err.response["Error"]["Code"])
        assert replay == outcomes

    with FakeCloudTrail(rate=None, latency=0.2) as ct:
        ct.fail_lane(ct.default_account, "eu-west-1")
        with pytest.raises(ClientError) as exc:
            ct_client(ct.url, region="eu-west-1").lookup_events()
        assert error_code(exc) == "InternalFailure"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        started = time.monotonic()
        assert (
            ct_client(ct.url).lookup_events()["Events"] == []
        )  # other lanes unaffected
        assert time.monotonic() - started >= 0.2
        assert [r.status for r in ct.requests] == [500, 200]


def test_assumed_role_key_maps_to_role_account(moto: MotoServer) -> None:
    role_account = "222222222222"
    sts = boto3.client("sts", region_name=REGION, endpoint_url=moto.url)
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{role_account}:role/deploy", RoleSessionName="ci-run-42"
    )["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")

    with FakeCloudTrail(rate=None) as ct:
        ct.add_records(role_account, REGION, [record(1, account=role_account)])
        ct.add_records(ct.default_account, REGION, [record(2), record(3)])
        as_role = ct_client(
            ct.url,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        (event,) = as_role.lookup_events()["Events"]
        assert (
            json.loads(event["CloudTrailEvent"])["recipientAccountId"] == role_account
        )
        assert (
            len(ct_client(ct.url).lookup_events()["Events"]) == 2
        )  # unknown key: default account
        assert [r.account for r in ct.requests] == [role_account, ct.default_account]
        assert ct.requests[0].access_key_id == creds["AccessKeyId"]


def test_cli_subprocess_reaches_fakes_through_endpoint_env(moto: MotoServer) -> None:
    """A separate process, configured only by environment, as users run the CLI: one
    ``AWS_ENDPOINT_URL`` serves CloudTrail from the fake and forwards STS to moto."""
    script = (
        "import boto3, json\n"
        "ct = boto3.client('cloudtrail')\n"
        "events = [e for p in ct.get_paginator('lookup_events').paginate() for e in p['Events']]\n"
        "who = boto3.client('sts').get_caller_identity()\n"
        "print(json.dumps({'n': len(events), 'first': events[0]['EventId'], 'account': who['Account']}))\n"
    )
    with FakeCloudTrail(rate=None, forward_to=moto.url) as ct:
        ct.add_records(
            ct.default_account,
            "eu-central-1",
            [record(i, region="eu-central-1") for i in range(60)],
        )
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")
        }
        env.update(ct.env(all_services=True), AWS_DEFAULT_REGION="eu-central-1")
        out = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        assert result == {
            "n": 60,
            "first": record(59)["eventID"],
            "account": "123456789012",
        }
        assert [(r.region, r.event_count) for r in ct.requests] == [
            ("eu-central-1", 50),
            ("eu-central-1", 10),
        ]


# --------------------------------------------------------------------------- GitHub


def github_client(fake: FakeGitHub, token: str, **kwargs: Any) -> Github:
    # PyGithub paces itself (0.25 s between requests, 1 s between writes by default);
    # that is politeness towards the real API, pointless against a loopback fake.
    kwargs.setdefault("seconds_between_requests", None)
    kwargs.setdefault("seconds_between_writes", None)
    return Github(base_url=fake.url, auth=Auth.Token(token), **kwargs)


def test_github_comment_lifecycle_with_pagination() -> None:
    with FakeGitHub(token="ghs_write") as fake:
        fake.add_pull("acme/infra", 7)
        for i in range(34):  # more than one default page of 30
            fake.add_comment(
                "acme/infra",
                7,
                f"human comment {i}",
                user="alice",
                created_at=1_700_000_000 + i,
            )
        gh = github_client(fake, "ghs_write")
        repo = gh.get_repo("acme/infra")
        assert repo.full_name == "acme/infra"
        pull = repo.get_pull(7)
        assert pull.number == 7 and pull.head.ref == "feature"

        created = pull.create_issue_comment("<!-- trailpolicy -->\nNo drift.")
        assert created.user.login == BOT_LOGIN and created.user.type == "Bot"
        assert created.created_at.tzinfo is not None

        issue = repo.get_issue(7)
        listed = list(issue.get_comments())
        assert len(listed) == 35
        assert [c.body for c in listed[:2]] == ["human comment 0", "human comment 1"]
        assert listed[-1].id == created.id  # oldest first, ours last
        list_calls = [
            r
            for r in fake.requests
            if r.path.endswith("/issues/7/comments") and r.method == "GET"
        ]
        assert [r.query.get("page") for r in list_calls] == [None, "2"]
        assert (
            issue.get_comments().totalCount == 35
        )  # PyGithub reads the last page from Link

        ours = next(c for c in pull.get_issue_comments() if c.user.login == BOT_LOGIN)
        ours.edit("<!-- trailpolicy -->\nDrift: s3:PutObject")
        assert ours.body.endswith("s3:PutObject") and ours.updated_at >= ours.created_at
        assert fake.comments("acme/infra", 7)[-1].body.endswith("s3:PutObject")

        ours.delete()
        assert len(fake.comments("acme/infra", 7)) == 34
        assert [(r.method, r.status) for r in fake.writes()] == [
            ("POST", 201),
            ("PATCH", 200),
            ("DELETE", 204),
        ]
        assert {r.token for r in fake.requests} == {"ghs_write"}


def test_github_auth_and_write_faults() -> None:
    with FakeGitHub(token="ghs_write") as fake:
        fake.add_issue("acme/infra", 3)
        with pytest.raises(GithubException) as exc:
            github_client(fake, "wrong").get_repo("acme/infra")
        assert exc.value.status == 401

        fake.set_read_only()  # a fork pull request's token: reads work, writes do not
        issue = github_client(fake, "ghs_write").get_repo("acme/infra").get_issue(3)
        with pytest.raises(GithubException) as exc:
            issue.create_comment("hello")
        assert exc.value.status == 403
        assert exc.value.data["message"] == "Resource not accessible by integration"
        assert fake.comments("acme/infra", 3) == []
        assert [r.status for r in fake.writes()] == [403]  # not retried as a rate limit

        fake.set_read_only(False)
        fake.fail_writes = 1  # one 5xx; PyGithub's default retry gets through
        issue.create_comment("hello")
        assert [r.status for r in fake.writes()] == [403, 502, 201]

        fake.fail_writes = -1
        no_retry = (
            github_client(fake, "ghs_write", retry=None)
            .get_repo("acme/infra")
            .get_issue(3)
        )
        with pytest.raises(GithubException) as exc:
            no_retry.create_comment("again")
        assert exc.value.status == 502
        assert [c.body for c in fake.comments("acme/infra", 3)] == ["hello"]

        with pytest.raises(GithubException) as exc:
            no_retry.repository.get_pull(3)  # an issue, not a pull request
        assert exc.value.status == 404


def test_github_refuses_to_change_another_users_comment() -> None:
    with FakeGitHub(token="ghs_write") as fake:
        fake.add_pull("acme/infra", 7)
        theirs = fake.add_comment("acme/infra", 7, "<!-- trailpolicy -->\nplanted", user="mallory")
        comment = github_client(fake, "ghs_write").get_repo("acme/infra").get_issue(7).get_comment(theirs.id)
        assert comment.user.login == "mallory" and comment.user.type == "User"
        for change in (lambda: comment.edit("taken over"), comment.delete):
            with pytest.raises(GithubException) as exc:
                change()
            assert exc.value.status == 403
        assert [c.body for c in fake.comments("acme/infra", 7)] == ["<!-- trailpolicy -->\nplanted"]
        assert [(r.method, r.status) for r in fake.writes()] == [("PATCH", 403), ("DELETE", 403)]


# --------------------------------------------------------------------------- OIDC


def fetch_oidc_token(request_url: str, request_token: str, audience: str) -> str:
    """What the Action does (the runner's documented protocol), in the test's own words."""
    req = urllib.request.Request(
        f"{request_url}&audience={audience}",
        headers={"Authorization": f"bearer {request_token}"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return str(json.load(resp)["value"])


def test_oidc_token_for_audience_is_accepted_by_moto_sts(moto: MotoServer) -> None:
    with FakeOIDCProvider(repository="acme/infra") as oidc:
        env = oidc.env()
        token = fetch_oidc_token(
            env["ACTIONS_ID_TOKEN_REQUEST_URL"],
            env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
            "sts.amazonaws.com",
        )
        claims = oidc.decode(token, audience="sts.amazonaws.com")
        assert (
            claims["iss"] == ISSUER and claims["sub"] == "repo:acme/infra:pull_request"
        )
        assert claims["exp"] > time.time() and claims["repository"] == "acme/infra"
        assert oidc.audiences == ["sts.amazonaws.com"]

        with pytest.raises(urllib.error.HTTPError) as http_err:
            fetch_oidc_token(
                env["ACTIONS_ID_TOKEN_REQUEST_URL"],
                "not-the-token",
                "sts.amazonaws.com",
            )
        assert http_err.value.code == 401
        assert [(r.audience, r.status) for r in oidc.requests] == [
            ("sts.amazonaws.com", 200),
            ("sts.amazonaws.com", 401),
        ]

        tampered = token.rsplit(".", 1)[0] + ".AAAA"
        with pytest.raises(ValueError):
            oidc.decode(tampered)

    role_arn = "arn:aws:iam::333333333333:role/trailpolicy-ci"
    sts = boto3.client("sts", region_name=REGION, endpoint_url=moto.url)
    resp = sts.assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName="gha-1", WebIdentityToken=token
    )
    assert (
        resp["AssumedRoleUser"]["Arn"]
        == "arn:aws:sts::333333333333:assumed-role/trailpolicy-ci/gha-1"
    )
    key = resp["Credentials"]["AccessKeyId"]

    # The web-identity session's key resolves to the role's account in the fake CloudTrail.
    with FakeCloudTrail(rate=None) as ct:
        assert ct.resolve_account(key) == "333333333333"
