"""The Athena query, executed for real: ``athena_observations.sql`` run by DuckDB over a table of
the same CloudTrail records, must give the same observations as reading those records as log files.

DuckDB stands in for Athena's engine (Trino). The query sticks to functions both have; the one
Trino function DuckDB lacks under that name (``array_join``) is bridged by a one-line macro.
"""

from __future__ import annotations

import gzip
import json
from importlib import resources

import duckdb
import pytest
import yaml

from trailpolicy.errors import UsageError
from trailpolicy.query import build_query
from trailpolicy.sources.athena import literal, observations_from_rows, parameter_values, statement
from trailpolicy.sources.logformat import read_log
from trailpolicy.tally import Tally

from .conftest import record, records, session_identity

TABLE = '"trail"."cloudtrail"'
COLUMNS = ("eventtime", "eventsource", "eventname", "awsregion", "errorcode", "requestparameters", "eventtype",
           "recipientaccountid", "managementevent", "eventcategory", "useridentity")
DDL = """
CREATE SCHEMA trail;
CREATE MACRO array_join(items, separator) AS array_to_string(items, separator);
CREATE TABLE trail.cloudtrail (
    useridentity STRUCT(type VARCHAR, arn VARCHAR, accountid VARCHAR, username VARCHAR,
                        sessioncontext STRUCT(sessionissuer STRUCT(type VARCHAR, arn VARCHAR, accountid VARCHAR, username VARCHAR))),
    eventtime VARCHAR, eventsource VARCHAR, eventname VARCHAR, awsregion VARCHAR, errorcode VARCHAR,
    requestparameters VARCHAR, eventtype VARCHAR, recipientaccountid VARCHAR,
    managementevent BOOLEAN, eventcategory VARCHAR,
    "timestamp" VARCHAR, region VARCHAR, account VARCHAR
)
"""


def _identity(raw: object) -> dict | None:
    if not isinstance(raw, dict):
        return None
    context = raw.get("sessionContext") if isinstance(raw.get("sessionContext"), dict) else {}
    issuer = context.get("sessionIssuer") if isinstance(context.get("sessionIssuer"), dict) else None
    return {
        "type": raw.get("type"), "arn": raw.get("arn"), "accountid": raw.get("accountId"), "username": raw.get("userName"),
        "sessioncontext": {"sessionissuer": {k.lower(): issuer.get(k) for k in ("type", "arn", "accountId", "userName")}}
        if issuer else None,
    }


def table(recs: list[dict]) -> duckdb.DuckDBPyConnection:
    """The records as Athena's CloudTrail table shows them: lower-case columns, userIdentity a
    struct, requestParameters the JSON text, partitioned by day, region and account."""
    con = duckdb.connect()
    con.execute(DDL)
    rows = []
    for rec in recs:
        params = rec.get("requestParameters")
        rows.append((
            _identity(rec.get("userIdentity")), rec["eventTime"], rec["eventSource"], rec["eventName"], rec.get("awsRegion"),
            rec.get("errorCode"), None if params is None else json.dumps(params), rec.get("eventType"),
            rec.get("recipientAccountId"), rec.get("managementEvent"), rec.get("eventCategory"),
            rec["eventTime"][:10].replace("-", "/"), rec.get("awsRegion"), rec.get("recipientAccountId"),
        ))
    con.executemany("INSERT INTO trail.cloudtrail VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return con


def athena_tally(recs: list[dict], query, accounts: tuple[str, ...] = (),
                 partitions: tuple[str, ...] = ("timestamp", "region", "account"),
                 columns: tuple[str, ...] = COLUMNS) -> tuple[Tally, int]:
    stmt = statement(TABLE, columns, partitions)
    values = parameter_values(query, accounts)
    cursor = table(recs).execute(stmt.text, [values[name] for name in stmt.names])
    names = [d[0] for d in cursor.description]
    as_text = [{n: None if v is None else ("true" if v is True else "false" if v is False else str(v))
                for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()]
    tally = Tally()
    observations_from_rows(as_text, query, tally)
    return tally, len(as_text)


def files_tally(recs: list[dict], query) -> Tally:
    return read_log(gzip.compress(json.dumps({"Records": recs}).encode()), query)


def summary(tally: Tally) -> dict:
    return {key: (o.count, o.first_seen, o.last_seen, o.data_event, o.regions, o.accounts)
            for key, o in tally.observations.items()}


@pytest.mark.parametrize("name", ["awsdocs-cloudtrail-examples", "invictus-aws-dataset",
                                  "stratus-red-team-detonation-logs", "otrf-ec2-proxy-s3-exfiltration",
                                  "cloud-custodian-test-events"])
def test_real_records_give_the_same_observations_as_log_files(name) -> None:
    recs = records(name)
    query = build_query("2010-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
    expected = files_tally(recs, query)
    got, rows = athena_tally(recs, query)
    assert summary(got) == summary(expected) and expected.observations
    assert got.events_matched == expected.events_matched
    assert got.out_of_scope == expected.out_of_scope
    assert rows <= len(recs)


def test_window_region_account_and_identity_filters_match_the_collector() -> None:
    deployer = session_identity("Deployer", "ci-1", "111122223333", path="/ci/")
    other = session_identity("Deployer", "ci-2", "111122223333")
    recs = [
        record("DescribeInstances", time="2024-05-01T11:59:59Z", userIdentity=deployer),  # before
        record("DescribeInstances", time="2024-05-01T12:00:00Z", userIdentity=deployer),  # at start: in
        record("RunInstances", time="2024-05-01T13:00:00Z", userIdentity=other, errorCode="Client.UnauthorizedOperation"),
        record("GetObject", "s3.amazonaws.com", "2024-05-01T13:00:00Z", userIdentity=deployer,
               managementEvent=False, eventCategory="Data"),
        record("GetObject", "s3.amazonaws.com", "2024-05-01T13:30:00Z", userIdentity=deployer,
               managementEvent=False, eventCategory="Data"),
        record("ListBuckets", "s3.amazonaws.com", "2024-05-01T13:00:00Z", region="eu-west-1", userIdentity=deployer),
        record("ListBuckets", "s3.amazonaws.com", "2024-05-01T13:00:00Z", arn="arn:aws:iam::111122223333:user/alice"),
        record("ListBuckets", "s3.amazonaws.com", "2024-05-01T13:00:00Z", arn="arn:aws:iam::444455556666:user/deployer"),
        record("GetCallerIdentity", "sts.amazonaws.com", "2024-05-01T14:00:00Z", arn="arn:aws:iam::111122223333:user/ALICE"),
        record("TerminateInstances", time="2024-05-01T18:00:01Z", userIdentity=deployer),  # after
    ]
    query = build_query("2024-05-01T12:00:00Z", "2024-05-01T18:00:00Z", regions=["us-east-1"], identities=[
        "arn:aws:iam::111122223333:role/Deployer",                      # every session of the role
        "arn:aws:sts::111122223333:assumed-role/Deployer/ci-1",         # and one of them on its own
        "arn:aws:iam::111122223333:user/alice",
    ])
    expected = files_tally(recs, query)
    got, rows = athena_tally(recs, query)
    assert summary(got) == summary(expected)
    assert got.events_matched == expected.events_matched == 6  # alice and ALICE are one IAM user
    # The two GetObject fold into one row; 444455556666's user 'deployer' passes the server-side
    # name filter (a superset) and is left out here, as the collector leaves it out.
    assert rows == 6 and got.out_of_scope == {"identity not asked for": 1}
    data = [o for o in got.observations.values() if o.call.event_name == "GetObject"]
    assert {o.count for o in data} == {2} and all(o.data_event for o in data)
    assert any(o.call.denied for o in got.observations.values())


def test_account_narrowing_keeps_only_events_recorded_there() -> None:
    recs = [record(time="2024-05-01T13:00:00Z"), record(time="2024-05-01T13:00:00Z", arn="arn:aws:iam::444455556666:user/bob")]
    query = build_query("2024-05-01T12:00:00Z", "2024-05-01T18:00:00Z")
    got, _ = athena_tally(recs, query, accounts=("444455556666",))
    assert {o.identity for o in got.observations.values()} == {"arn:aws:iam::444455556666:user/bob"}


def _pass_role_records() -> list[dict]:
    """One call per entry of the mapping's pass-role table, each passing a role by each key it
    names (and one AssumeRole, whose roleArn is not a passed role)."""
    text = resources.files("trailpolicy").joinpath("mapping/data/pass_role.yaml").read_text()
    recs = []
    for host, calls in yaml.safe_load(text)["calls"].items():
        for name, entry in calls.items():
            for key in entry.get("role_keys") or ():
                recs.append(record(name, host, "2024-05-01T13:00:00Z",
                                   requestParameters={"name": "x", key: f"arn:aws:iam::111122223333:role/{name}-{key}"}))
            for key in entry.get("instance_profile_keys") or ():
                recs.append(record(name, host, "2024-05-01T13:00:00Z", requestParameters={
                    "nested": {key: {"arn": f"arn:aws:iam::111122223333:instance-profile/{name}", "name": "p"}}}))
    recs += [
        record("CreateFunction20150331", "lambda.amazonaws.com", "2024-05-01T13:00:00Z",
               requestParameters={"role": "arn:aws:iam::111122223333:role/fn", "description": 'says "hi", {braces}'}),
        record("CreateJob", "glue.amazonaws.com", "2024-05-01T13:00:00Z", requestParameters={"role": "GlueJobRole"}),
        record("RunTask", "ecs.amazonaws.com", "2024-05-01T13:00:00Z",
               requestParameters={"overrides": {"taskRoleArn": "arn:aws:iam::111122223333:role/task"}}),
        record("CreateCluster", "redshift.amazonaws.com", "2024-05-01T13:00:00Z",
               requestParameters={"iamRoles": ["arn:aws:iam::111122223333:role/a", "arn:aws:iam::111122223333:role/b"]}),
        record("SetIdentityPoolRoles", "cognito-identity.amazonaws.com", "2024-05-01T13:00:00Z",
               requestParameters={"roles": {"authenticated": "arn:aws:iam::111122223333:role/auth"}}),
        record("AssumeRole", "sts.amazonaws.com", "2024-05-01T13:00:00Z",
               requestParameters={"roleArn": "arn:aws:iam::111122223333:role/target", "roleSessionName": "s"}),
    ]
    return recs


def test_passed_roles_are_read_as_from_the_whole_request_parameters() -> None:
    recs = _pass_role_records()
    query = build_query("2024-05-01T12:00:00Z", "2024-05-01T18:00:00Z")
    expected = files_tally(recs, query)
    got, _ = athena_tally(recs, query)
    assert summary(got) == summary(expected)
    passed = set().union(*(o.call.passed_roles for o in got.observations.values()))
    assert len(passed) > 50 and "arn:aws:iam::111122223333:role/fn" in passed and "role:GlueJobRole" in passed
    assert "arn:aws:iam::111122223333:role/target" not in passed


@pytest.mark.parametrize(("columns", "partitions"), [
    (COLUMNS, ()),
    (tuple(c for c in COLUMNS if c != "managementevent"), ("timestamp",)),
])
def test_table_shapes_without_partitions_or_managementevent(columns, partitions) -> None:
    recs = records("otrf-ec2-proxy-s3-exfiltration")
    query = build_query("2010-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
    got, _ = athena_tally(recs, query, partitions=partitions, columns=columns)
    assert summary(got) == summary(files_tally(recs, query))


def test_statement_has_placeholders_not_values() -> None:
    stmt = statement(TABLE, COLUMNS, ("region", "year", "month", "day"))
    assert stmt.partitions == ("year", "month", "day", "region")
    assert len(stmt.names) == 14 and stmt.names[:2] == ("start_time", "end_time")
    assert "concat(year, '/', month, '/', day) >= ?" in stmt.text and "contains(split(?, ','), region)" in stmt.text
    assert ":" + stmt.names[0] not in stmt.text


def test_values_are_quoted_literals_and_names_checked() -> None:
    assert literal("o'brien") == "'o''brien'" and literal(True) == "true"
    with pytest.raises(UsageError):
        literal("a\nb")
    query = build_query("2024-05-01T12:00:00Z", "2024-05-01T18:00:00Z", identities=["arn:aws:iam::111122223333:user/o'brien"])
    with pytest.raises(UsageError, match="is not an IAM name"):
        parameter_values(query, ())
