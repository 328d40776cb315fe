"""``--source athena://`` against moto's Athena and Glue (server mode), through the CLI.

moto does not run SQL: the rows are injected (as Athena returns them, column names first) and
a proxy pages them two at a time, as Athena pages its results. What is asserted is what the CLI
sent (the SQL text and its execution parameters) and what it made of the rows.
"""

from __future__ import annotations

import json
import urllib.request

import boto3
import pytest

from .conftest import cli_env, run_cli
from .fakes.moto import MotoServer
from .fakes.proxy import RecordingProxy, athena_pages

ROLE = "arn:aws:iam::111122223333:role/Deployer"
SESSION = "arn:aws:sts::111122223333:assumed-role/Deployer/ci-1"
HEADER = ["identity_arn", "identity_type", "session_issuer_arn", "account", "region", "event_source", "event_name",
          "event_type", "error_code", "data_event", "role_parameters", "events", "first_seen", "last_seen"]
SPEC = "athena://trail.cloudtrail_logs?workgroup=primary&output=s3://query-results/athena/"
WINDOW = ("--start-time", "2024-05-03T10:00:00Z", "--end-time", "2024-05-03T18:00:00Z")


def row(event_source: str, event_name: str, events: int, *, arn: str = SESSION, error: str | None = None,
        data: bool = False, region: str = "us-east-1", roles: str | None = None) -> dict:
    values = [arn, "AssumedRole", ROLE, "111122223333", region, event_source, event_name, "AwsApiCall", error,
              "true" if data else "false", roles, str(events), "2024-05-03T10:05:00Z", "2024-05-03T17:55:00Z"]
    return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}


ROWS = [
    row("s3.amazonaws.com", "GetObject", 120_000, data=True),
    row("s3.amazonaws.com", "GetObject", 30_000, data=True, region="eu-west-1"),
    row("lambda.amazonaws.com", "CreateFunction20150331", 1,
        roles='[{"role": "arn:aws:iam::111122223333:role/fn-exec"}]'),
    row("ec2.amazonaws.com", "RunInstances", 3, error="Client.UnauthorizedOperation"),
    row("ec2.amazonaws.com", "DescribeInstances", 7, arn="arn:aws:iam::111122223333:user/bob"),
]


@pytest.fixture(scope="module")
def moto():
    with MotoServer() as server:
        glue = boto3.client("glue", endpoint_url=server.url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
        glue.create_database(DatabaseInput={"Name": "trail"})
        columns = [{"Name": n, "Type": "string"} for n in ("eventtime", "eventsource", "eventname", "eventcategory")]
        glue.create_table(DatabaseName="trail", TableInput={
            "Name": "cloudtrail_logs", "StorageDescriptor": {"Columns": columns},
            "PartitionKeys": [{"Name": "timestamp", "Type": "string"}]})
        yield server


def inject(moto: MotoServer, rows: list[dict]) -> None:
    body = json.dumps({"results": [{"rows": [{"Data": [{"VarCharValue": h} for h in HEADER]}, *rows]}]}).encode()
    request = urllib.request.Request(f"{moto.url}/moto-api/static/athena/query-results", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def test_query_parameters_pages_and_policy(moto, tmp_path) -> None:
    inject(moto, ROWS)
    with RecordingProxy(moto.url, rewrite=athena_pages(2)) as proxy:
        done = run_cli("generate", "--no-progress", "--source", SPEC, *WINDOW, "--identity", ROLE,
                       "--region", "us-east-1", "--region", "eu-west-1", "--output-dir", str(tmp_path),
                       env=cli_env(AWS_ENDPOINT_URL=proxy.url))
        assert done.returncode == 0, done.stderr.decode()
        started = [json.loads(s.body) for s in proxy.requests("POST") if s.target.endswith(".StartQueryExecution")]
        pages = [json.loads(s.body or b"{}") for s in proxy.requests("POST") if s.target.endswith(".GetQueryResults")]

    assert len(started) == 1
    request = started[0]
    sql = request["QueryString"]
    assert 'FROM "trail"."cloudtrail_logs"' in sql
    assert 'AND "timestamp" >= ? AND "timestamp" <= ?' in sql  # the partition column prunes the scan
    assert "coalesce(eventcategory, 'Management') <> 'Management' AS data_event" in sql
    assert "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11" in sql
    for value in ("Deployer", "deployer", "us-east-1", "2024-05-03", "2024/05"):
        assert value not in sql  # values travel as parameters only
    assert request["ExecutionParameters"] == [
        "'2024-05-03T10:00:00Z'", "'2024-05-03T18:00:00Z'",
        "false", "'us-east-1,eu-west-1'",
        "true", "''",
        "false", "'deployer'", "'deployer'", "'deployer'",
        "'2024/05/02'", "'2024/05/04'",
    ]
    assert request["WorkGroup"] == "primary"
    assert request["ResultConfiguration"] == {"OutputLocation": "s3://query-results/athena/"}
    assert request["QueryExecutionContext"] == {"Database": "trail", "Catalog": "AwsDataCatalog"}
    assert [p.get("NextToken") for p in pages] == [None, "2", "4"]  # 1 header + 5 rows, 2 a page

    policy = json.loads(done.stdout)[ROLE]
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions == {"s3:GetObject", "lambda:CreateFunction", "iam:PassRole", "ec2:RunInstances"}
    report = json.loads((tmp_path / "report.json").read_text())
    source = report["run"]["sources"][0]
    assert source["kind"] == "athena" and source["rows"] == 5 and source["partitions_used"] == ["timestamp"]
    assert source["data_event_column"] == "eventcategory" and source["data_events"] is True
    assert source["query_execution_id"]
    events = report["run"]["events"]
    assert events["read"] == 150_011 and events["in_scope"] == 150_004
    assert events["out_of_scope"] == {"identity not asked for": 7}
    assert report["run"]["data_events"]["seen"] == 150_000
    assert report["run"]["regions_seen"] == ["eu-west-1", "us-east-1"]
    entry = report["identities"][ROLE]
    assert entry["denied"] == [{"action": "ec2:RunInstances", "count": 3}]
    assert entry["passed_roles"][0]["role"] == "arn:aws:iam::111122223333:role/fn-exec"


@pytest.mark.parametrize(("spec", "message"), [
    ("athena://trail.no_such_table?workgroup=primary", "no table trail.no_such_table"),
    ("athena://trail?workgroup=primary", "expected athena://DATABASE.TABLE"),
    ('athena://trail.x";drop?workgroup=primary', "expected athena://DATABASE.TABLE"),
    ("athena://trail.cloudtrail_logs?output=/tmp/x", "output= must be an s3:// location"),
    ("athena://trail.cloudtrail_logs?work-group=primary", "unknown option 'work-group'"),
])
def test_bad_source_is_one_line_and_exit_2(moto, spec, message) -> None:
    done = run_cli("generate", "--no-progress", "--source", spec, *WINDOW, env=cli_env(AWS_ENDPOINT_URL=moto.url))
    assert done.returncode == 2, done.stderr.decode()
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trailpolicy: error: ") and message in lines[0]
