"""The log-file source: layouts, filters, parallel reading, and every kind of bad input."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from trailpolicy.errors import UsageError
from trailpolicy.query import build_query
from trailpolicy.sources.files import FileSource, find_logs
from trailpolicy.tally import AFTER_END, BEFORE_START, OTHER_IDENTITY, OTHER_REGION

from .conftest import record, session_identity, write_log

ALICE = "arn:aws:iam::111122223333:user/alice"


def s3_path(root: Path, region: str, day: str, name: str, account: str = "111122223333", org: str | None = None) -> Path:
    parts = ["AWSLogs"] + ([org] if org else []) + [account, "CloudTrail", region, *day.split("-")]
    return root.joinpath(*parts, f"{account}_CloudTrail_{region}_{day.replace('-', '')}T0000Z_{name}.json.gz")


def query(**kw):
    return build_query(kw.pop("start", "2024-05-01T00:00:00Z"), kw.pop("end", "2024-05-02T00:00:00Z"), **kw)


def test_folder_in_s3_layout_any_depth_json_and_gz(tmp_path: Path) -> None:
    write_log(s3_path(tmp_path, "us-east-1", "2024-05-01", "a"), [record("DescribeInstances", time="2024-05-01T10:00:00Z")])
    write_log(tmp_path / "x" / "y" / "z" / "plain.json", [record("GetObject", "s3.amazonaws.com", "2024-05-01T11:00:00Z")], gz=False)
    write_log(s3_path(tmp_path, "eu-west-1", "2024-05-01", "b", org="o-abc123"), [record("ListBuckets", "s3.amazonaws.com", "2024-05-01T12:00:00Z", region="eu-west-1")])
    tally = FileSource(str(tmp_path), progress=False).collect(query())
    calls = {(k[1].event_source, k[1].event_name) for k in tally.observations}
    assert calls == {("ec2.amazonaws.com", "DescribeInstances"), ("s3.amazonaws.com", "GetObject"), ("s3.amazonaws.com", "ListBuckets")}
    assert tally.events_read == 3 and tally.events_matched == 3
    assert tally.sources[0]["files_read"] == 3


def test_days_and_regions_outside_the_query_are_not_read(tmp_path: Path) -> None:
    inside = s3_path(tmp_path, "us-east-1", "2024-05-01", "in")
    next_day = s3_path(tmp_path, "us-east-1", "2024-05-03", "late")  # day after the end: late delivery
    far = s3_path(tmp_path, "us-east-1", "2024-06-15", "far")
    other_region = s3_path(tmp_path, "ap-south-1", "2024-05-01", "region")
    digest = tmp_path / "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01/d.json.gz"
    for path in (inside, next_day, far, other_region, digest):
        write_log(path, [record(time="2024-05-01T10:00:00Z")])
    found = {Path(p) for p, _ in find_logs(tmp_path, query(regions=["us-east-1"]))}
    assert found == {inside, next_day}


def test_filters_count_what_they_leave_out(tmp_path: Path) -> None:
    recs = [
        record(time="2024-04-30T23:59:59Z"),
        record(time="2024-05-02T00:00:01Z"),
        record(time="2024-05-01T01:00:00Z", region="eu-west-1"),
        record(time="2024-05-01T01:00:00Z", arn="arn:aws:iam::111122223333:user/bob"),
        record(time="2024-05-01T01:00:00Z"),
        record(time="2024-05-01T00:00:00Z"),  # the window is inclusive at both ends
        record(time="2024-05-02T00:00:00Z"),
    ]
    write_log(tmp_path / "log.json.gz", recs)
    tally = FileSource(str(tmp_path / "log.json.gz"), progress=False).collect(
        query(identities=[ALICE], regions=["us-east-1"]))
    assert tally.events_read == 7
    assert tally.events_matched == 3
    assert tally.out_of_scope == {BEFORE_START: 1, AFTER_END: 1, OTHER_REGION: 1, OTHER_IDENTITY: 1}


def test_parallel_read_equals_serial_read(tmp_path: Path) -> None:
    for n in range(24):
        recs = [record(f"Describe{n % 5}", time=f"2024-05-01T{n:02d}:{m:02d}:00Z",
                       userIdentity=session_identity("Deployer", f"s{m}")) for m in range(60)]
        write_log(s3_path(tmp_path, "us-east-1", "2024-05-01", f"f{n}"), recs)
    parallel = FileSource(str(tmp_path), progress=False, workers=2)
    serial = FileSource(str(tmp_path), progress=False, workers=1)
    import trailpolicy.sources.files as files

    old = files.PARALLEL_MIN_BYTES
    files.PARALLEL_MIN_BYTES = 0
    try:
        a = parallel.collect(query())
    finally:
        files.PARALLEL_MIN_BYTES = old
    b = serial.collect(query())
    assert a.events_read == b.events_read == 24 * 60
    assert {k: (o.count, o.first_seen, o.last_seen) for k, o in a.observations.items()} == \
           {k: (o.count, o.first_seen, o.last_seen) for k, o in b.observations.items()}
    assert {k[0] for k in a.observations} == {"arn:aws:iam::111122223333:role/Deployer"}


def test_one_bad_file_among_many_is_reported_and_nothing_else_lost(tmp_path: Path, capsys) -> None:
    write_log(tmp_path / "good1.json.gz", [record(time="2024-05-01T10:00:00Z")])
    write_log(tmp_path / "good2.json", [record("GetObject", "s3.amazonaws.com", "2024-05-01T10:00:00Z")], gz=False)
    (tmp_path / "broken.json.gz").write_bytes(gzip.compress(b'{"Records": [') [:-6])
    (tmp_path / "notes.json").write_text('{"hello": "world"}')
    tally = FileSource(str(tmp_path), progress=False).collect(query())
    assert tally.events_matched == 2
    reasons = {Path(b["input"]).name: b["reason"] for b in tally.bad_inputs}
    assert set(reasons) == {"broken.json.gz", "notes.json"}
    assert "gzip" in reasons["broken.json.gz"]
    assert "not a CloudTrail log" in reasons["notes.json"]
    err = capsys.readouterr().err
    assert "broken.json.gz" in err and "notes.json" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json at all", "not JSON"),
        (b'{"foo": []}', "not a CloudTrail log"),
        (b'"just a string"', "not a CloudTrail log"),
        (gzip.compress(json.dumps({"Records": [record()]}).encode())[:-10], "truncated or corrupt gzip"),
        (json.dumps({"Records": [{"eventSource": "ec2.amazonaws.com", "eventName": "X"}]}).encode(), "no eventTime"),
        (json.dumps({"Records": [record(time="last tuesday")]}).encode(), "not an ISO 8601 time"),
    ],
)
def test_single_bad_file_is_a_usage_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json.gz"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        FileSource(str(path), progress=False).collect(query())


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        FileSource(str(tmp_path / "nope"), progress=False).collect(query())
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no CloudTrail log files"):
        FileSource(str(tmp_path / "empty"), progress=False).collect(query())


def test_folder_of_only_bad_files_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "b.json").write_text("[1")
    with pytest.raises(UsageError, match="no readable CloudTrail log"):
        FileSource(str(tmp_path), progress=False).collect(query())


def test_stdin_and_lookup_events_shape(monkeypatch) -> None:
    lookup = {"Events": [{"EventId": "1", "CloudTrailEvent": json.dumps(record(time="2024-05-01T10:00:00Z"))}]}
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(json.dumps(lookup).encode())))
    tally = FileSource("-", progress=False).collect(query())
    assert tally.events_matched == 1
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"garbage")))
    with pytest.raises(UsageError, match="standard input"):
        FileSource("-", progress=False).collect(query())


def test_a_file_damaged_mid_way_contributes_nothing(tmp_path: Path) -> None:
    """The damaged file's good first records are not counted, before or after other files."""
    write_log(tmp_path / "a.json.gz", [record("GetObject", "s3.amazonaws.com", "2024-05-01T10:00:00Z")] * 2)
    write_log(tmp_path / "b.json.gz", [record("DeleteObject", "s3.amazonaws.com", "2024-05-01T10:00:00Z"),
                                       {"eventSource": "s3.amazonaws.com", "eventName": "PutObject"}])
    write_log(tmp_path / "c.json.gz", [record("ListBuckets", "s3.amazonaws.com", "2024-05-01T10:00:00Z")])
    tally = FileSource(str(tmp_path), progress=False, workers=1).collect(query())
    calls = {k[1].event_name: o.count for k, o in tally.observations.items()}
    assert calls == {"GetObject": 2, "ListBuckets": 1}
    assert tally.events_read == tally.events_matched == 3
    assert [(Path(b["input"]).name, b["reason"]) for b in tally.bad_inputs] == [("b.json.gz", "record 2: no eventTime")]
