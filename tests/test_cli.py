"""The installed CLI end to end, as a subprocess, on the bundled example and the real datasets."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from trailpolicy import catalog

from .conftest import BERT_JAN, DATASETS, EXAMPLES, record, run_cli, write_log

WINDOW = ["--start-time", "2023-07-10T11:00:00Z", "--end-time", "2023-07-10T13:00:00Z"]
ALL_TIME = ["--start-time", "2013-11-01T00:00:00Z", "--end-time", "2030-01-01T00:00:00Z"]


def actions_of(documents: dict) -> set[str]:
    return {a for doc in documents.values() for s in doc["Statement"] for a in s["Action"]}


def assert_canonical(document: dict) -> None:
    assert document["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in document["Statement"]]
    assert sids == sorted(sids) and len(sids) == len(set(sids))
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow" and statement["Resource"] == "*"
        assert statement["Action"] == sorted(set(statement["Action"]))
        prefixes = {a.split(":")[0] for a in statement["Action"]}
        assert len(prefixes) == 1


def test_quick_start_example(tmp_path: Path) -> None:
    out = run_cli("generate", "--source", str(EXAMPLES / "logs"), *WINDOW, "--identity", BERT_JAN,
                  "--output-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr.decode()
    documents = json.loads(out.stdout)
    assert list(documents) == [BERT_JAN]
    assert_canonical(documents[BERT_JAN])
    actions = actions_of(documents)
    assert all(catalog.exists(a) for a in actions)
    # Facts of this log: Terraform's calls, the Lambda dated names, S3 configuration reads,
    # and the role passed to Lambda.
    assert {"ec2:RunInstances", "iam:CreateRole", "iam:PassRole", "lambda:CreateFunction",
            "s3:GetBucketPolicy", "sts:GetCallerIdentity"} - {"sts:GetCallerIdentity"} <= actions
    assert "sts:GetCallerIdentity" not in actions  # needs no permission
    assert not any(a.endswith(("20150331", "20150331v2")) for a in actions)
    assert "Traceback" not in out.stderr.decode()

    report = json.loads((tmp_path / "report.json").read_text())
    entry = report["identities"][BERT_JAN]
    assert entry["policy_file"] == "policies/123837392027-user-bert-jan.json"
    written = json.loads((tmp_path / entry["policy_file"]).read_text())
    assert written == documents[BERT_JAN]
    assert entry["events"] == 2641 == report["run"]["events"]["in_scope"]
    assert report["run"]["events"]["read"] == 2900
    assert report["run"]["events"]["out_of_scope"] == {"identity not asked for": 259}
    assert {s["call"] for s in entry["skipped"]} >= {"sts.amazonaws.com:GetCallerIdentity"}
    assert report["run"]["catalog_version"] == catalog.version()
    levels = {part for a in entry["actions"] for part in a["access_level"].split(", ")}
    assert levels <= {"List", "Read", "Write", "Permissions management", "Tagging"}
    assert any(a["denied"] for a in entry["actions"])  # the log has AccessDenied calls
    assert entry["passed_roles"], "CreateFunction passed a role"


def test_yaml_and_stdin() -> None:
    data = (EXAMPLES / "logs" / "invictus-aws-dataset.json.gz").read_bytes()
    out = run_cli("generate", "--source", "-", *WINDOW, "--identity", BERT_JAN, "--format", "yaml", stdin=data)
    assert out.returncode == 0, out.stderr.decode()
    from_yaml = yaml.safe_load(out.stdout)
    out_json = run_cli("generate", "--source", str(EXAMPLES / "logs"), *WINDOW, "--identity", BERT_JAN)
    assert from_yaml == json.loads(out_json.stdout)


def test_role_arn_matches_every_session_in_a_real_log() -> None:
    role = "arn:aws:iam::123837392027:role/stratus-red-team-ec2-get-password-data-role"
    out = run_cli("generate", "--source", str(EXAMPLES / "logs"), *WINDOW, "--identity", role)
    assert out.returncode == 0, out.stderr.decode()
    assert "ec2:GetPasswordData" in actions_of(json.loads(out.stdout))


def _valid_time(text: object) -> bool:
    try:
        return datetime.fromisoformat(str(text)).tzinfo is not None
    except ValueError:
        return False


def one_line_error(out) -> str:
    err = out.stderr.decode()
    assert out.returncode == 2, err
    assert out.stdout == b""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trailpolicy: error: "), err
    return lines[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--source", "no/such/path", *WINDOW], "no such file"),
        (["--source", "examples/logs", "--start-time", "2023-07-10T13:00:00Z", "--end-time", "2023-07-10T11:00:00Z"], "not after"),
        (["--source", "examples/logs", "--start-time", "yesterday", "--end-time", "2023-07-10T11:00:00Z"], "--start-time"),
        (["--source", "examples/logs", *WINDOW, "--identity", "bert-jan"], "not an identity ARN"),
        (["--source", "examples/logs", *WINDOW, "--region", "moon-base-1a"], "not an AWS region"),
        (["--source", "examples/logs", *WINDOW, "--format", "xml"], "invalid choice"),
        (["--source", "examples/logs", "--end-time", "2023-07-10T11:00:00Z"], "--start-time"),
    ],
)
def test_bad_usage_is_one_line_exit_2(args: list[str], needle: str) -> None:
    assert needle in one_line_error(run_cli("generate", *args))


def test_bad_files_are_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"not": "cloudtrail"}')
    assert "not a CloudTrail log" in one_line_error(run_cli("generate", "--source", str(tmp_path / "a.json"), *WINDOW))
    (tmp_path / "t.json.gz").write_bytes((EXAMPLES / "logs" / "invictus-aws-dataset.json.gz").read_bytes()[:5000])
    assert "gzip" in one_line_error(run_cli("generate", "--source", str(tmp_path / "t.json.gz"), *WINDOW))
    write_log(tmp_path / "n.json", [{"eventSource": "s3.amazonaws.com", "eventName": "GetObject"}], gz=False)
    assert "eventTime" in one_line_error(run_cli("generate", "--source", str(tmp_path / "n.json"), *WINDOW))


def test_one_bad_file_among_many_is_a_warning(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_log(logs / "good.json.gz", [record("GetObject", "s3.amazonaws.com", "2023-07-10T12:00:00Z")])
    (logs / "bad.json.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    out = run_cli("generate", "--source", str(logs), *WINDOW, "--output-dir", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr.decode()
    assert "bad.json.gz" in out.stderr.decode() and "warning" in out.stderr.decode()
    assert actions_of(json.loads(out.stdout)) == {"s3:GetObject"}
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [Path(b["input"]).name for b in report["run"]["bad_inputs"]] == ["bad.json.gz"]


def test_explain() -> None:
    out = run_cli("explain", "--event-source", "s3.amazonaws.com", "--event-name", "ListObjects")
    assert out.returncode == 0, out.stderr.decode()
    assert "s3:ListBucket" in out.stdout.decode()


@pytest.mark.parametrize("name", sorted(p.name.removesuffix(".json.gz") for p in DATASETS.glob("*.json.gz")) or ["none"])
def test_every_real_dataset(name: str, tmp_path: Path) -> None:
    path = DATASETS / f"{name}.json.gz"
    if not path.exists():
        pytest.skip("datasets not present")
    recs = json.loads(gzip.decompress(path.read_bytes()))["Records"]
    unusable = [n for n, r in enumerate(recs, 1) if not _valid_time(r.get("eventTime"))]
    if unusable:
        # Fixture data with an impossible date (2019-01-00): the file as a whole is refused,
        # naming the record; the rest is checked on a copy without it.
        refused = run_cli("generate", "--source", str(path), *ALL_TIME)
        assert f"record {unusable[0]}:" in one_line_error(refused)
        path = write_log(tmp_path / "clean.json.gz", [r for n, r in enumerate(recs, 1) if n not in unusable])
    out = run_cli("generate", "--source", str(path), *ALL_TIME, "--output-dir", str(tmp_path / "out"), "--no-progress")
    assert out.returncode == 0, out.stderr.decode()
    documents = json.loads(out.stdout)
    invalid = {a for a in actions_of(documents) if not catalog.exists(a)}
    assert not invalid
    for document in documents.values():
        assert_canonical(document)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    events = report["run"]["events"]
    # Every record read is either in a policy's identity, or out of scope with a reason.
    assert events["read"] == events["in_scope"] + sum(events["out_of_scope"].values())
    assert events["in_scope"] == sum(e["events"] for e in report["identities"].values())
    stderr = out.stderr.decode()
    for entry in report["identities"].values():
        used = sum(a["count"] for a in entry["actions"] if a["action"] != "iam:PassRole")
        assert used + sum(s["count"] for s in entry["skipped"]) + sum(u["count"] for u in entry["unmapped"]) >= entry["events"]
        for unmapped in entry["unmapped"]:
            assert unmapped["call"] in stderr and unmapped["reason"]


def test_global_services_outside_the_asked_region_are_counted_and_warned(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_log(logs / "a.json.gz", [
        record("CreateRole", "iam.amazonaws.com", "2023-07-10T12:00:00Z", region="us-east-1"),
        record("RunInstances", "ec2.amazonaws.com", "2023-07-10T12:00:00Z", region="eu-west-1"),
        record("RunInstances", "ec2.amazonaws.com", "2023-07-10T12:00:00Z", region="eu-north-1"),
    ])
    out = run_cli("generate", "--source", str(logs), *WINDOW, "--region", "eu-west-1", "--output-dir", str(tmp_path / "o"))
    assert out.returncode == 0, out.stderr.decode()
    err = out.stderr.decode()
    assert "does not include us-east-1" in err and "left out 1 events of global services" in err
    assert actions_of(json.loads(out.stdout)) == {"ec2:RunInstances"}
    scope = json.loads((tmp_path / "o" / "report.json").read_text())["run"]["events"]["out_of_scope"]
    assert scope == {"region not asked for": 1,
                     "region not asked for: a global service, recorded in the partition's global region (us-east-1)": 1}
    quiet = run_cli("generate", "--source", str(logs), *WINDOW, "--region", "eu-west-1", "--region", "us-east-1")
    assert "global" not in quiet.stderr.decode()


def test_identity_with_only_permissionless_calls_gets_an_empty_policy_and_a_warning(tmp_path: Path) -> None:
    write_log(tmp_path / "a.json.gz", [record("GetCallerIdentity", "sts.amazonaws.com", "2023-07-10T12:00:00Z")])
    out = run_cli("generate", "--source", str(tmp_path), *WINDOW)
    assert out.returncode == 0, out.stderr.decode()
    assert json.loads(out.stdout) == {"arn:aws:iam::111122223333:user/alice": {"Version": "2012-10-17", "Statement": []}}
    assert "policy has no statements" in out.stderr.decode()


def test_nothing_in_scope_is_said_on_stderr(tmp_path: Path) -> None:
    write_log(tmp_path / "a.json.gz", [record(time="2023-07-10T12:00:00Z", region="us-east-1")])
    out = run_cli("generate", "--source", str(tmp_path), "--start-time", "2023-08-01T00:00:00Z",
                  "--end-time", "2023-08-02T00:00:00Z")
    assert out.returncode == 0 and json.loads(out.stdout) == {}
    assert "none of the 1 events read is in scope (1 before --start-time)" in out.stderr.decode()


def test_empty_source_is_refused() -> None:
    assert "--source is empty" in one_line_error(run_cli("generate", "--source", "", *WINDOW))
