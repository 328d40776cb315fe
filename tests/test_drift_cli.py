"""End to end: ``generate --baseline`` and ``diff`` as users run them, on the bundled example log."""

from __future__ import annotations

import gzip
import json

import jsonpatch
import yaml

from trailpolicy.canonical import canonical_documents

from .conftest import BERT_JAN, EXAMPLES, record, run_cli, write_log

BASELINE = EXAMPLES / "baseline" / "bert-jan.json"
WINDOW = ["--start-time", "2023-07-10T11:00:00Z", "--end-time", "2023-07-10T13:00:00Z"]
GENERATE = ["generate", *WINDOW, "--identity", BERT_JAN, "--no-progress"]
DROPPED = {"CreateTrail", "DeleteTrail"}  # cloudtrail:CreateTrail, cloudtrail:DeleteTrail become unused


def example_records() -> list[dict]:
    return json.loads(gzip.decompress((EXAMPLES / "logs" / "invictus-aws-dataset.json.gz").read_bytes()))["Records"]


def modified_log(tmp_path):
    """bert-jan's calls minus every CreateTrail/DeleteTrail, plus two calls the baseline lacks."""
    records = [r for r in example_records()
               if not (r["userIdentity"].get("arn") == BERT_JAN and r["eventName"] in DROPPED)]
    records.append(record("PutUserPolicy", "iam.amazonaws.com", "2023-07-10T12:40:00Z", BERT_JAN))
    records.append(record("ListTables", "dynamodb.amazonaws.com", "2023-07-10T12:41:00Z", BERT_JAN,
                          errorCode="AccessDenied", errorMessage="<b>denied</b> @admin"))
    records.append(record("ListTables", "dynamodb.amazonaws.com", "2023-07-10T12:42:00Z", BERT_JAN))
    return write_log(tmp_path / "logs" / "modified.json.gz", records)


def test_committed_baseline_matches_the_example_log(tmp_path):
    result = run_cli(*GENERATE, "--source", str(EXAMPLES / "logs"), "--baseline", str(BASELINE),
                     "--fail-on-drift=any", "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout) == json.loads(BASELINE.read_text())
    assert json.loads((tmp_path / "drift.json").read_text())["drift"] is False
    assert json.loads((tmp_path / "patch.json").read_text()) == []
    assert "**No drift:**" in (tmp_path / "report.md").read_text()


def test_modified_workload_fails_on_drift_and_names_the_changes(tmp_path):
    log = modified_log(tmp_path)
    out = tmp_path / "out"
    result = run_cli(*GENERATE, "--source", str(log), "--baseline", str(BASELINE), "--fail-on-drift",
                     "--output-dir", str(out))
    assert result.returncode == 3, result.stderr.decode()
    assert b"drift: 2 actions needed but not granted (1 high risk), 2 grants not used" in result.stderr

    drift = json.loads((out / "drift.json").read_text())
    entry = drift["identities"][BERT_JAN]
    assert drift["drift"] is True and entry["status"] == "changed"
    assert entry["added"] == ["dynamodb:ListTables", "iam:PutUserPolicy"]
    assert entry["unused"] == ["cloudtrail:CreateTrail", "cloudtrail:DeleteTrail"]
    assert entry["high_risk"] == ["iam:PutUserPolicy"]
    tables = {a["action"]: a for a in entry["details"]["added"]}
    assert (tables["dynamodb:ListTables"]["count"], tables["dynamodb:ListTables"]["denied"]) == (2, 1)
    assert tables["dynamodb:ListTables"]["first_seen"] == "2023-07-10T12:41:00Z"

    report = (out / "report.md").read_text()
    for action in entry["added"] + entry["unused"]:
        assert f"`{action}`" in report
    assert "| `dynamodb:ListTables` | List |  | 2023\\-07\\-10T12\\:41\\:00Z | 2 | yes (1) |" in report
    assert "| `iam:PutUserPolicy` | Permissions management\\, Write | **high** |" in report

    patch = json.loads((out / "patch.json").read_text())
    generated = json.loads(result.stdout)
    assert jsonpatch.apply_patch(canonical_documents(json.loads(BASELINE.read_text())), patch) == generated


def test_fail_on_drift_levels(tmp_path):
    log = str(modified_log(tmp_path))
    base = [*GENERATE, "--source", log, "--baseline", str(BASELINE)]
    assert run_cli(*base).returncode == 0
    assert run_cli(*base, "--fail-on-drift=high-risk").returncode == 3
    # Only unused grants: the original log minus the dropped calls.
    records = [r for r in example_records() if not (r["userIdentity"].get("arn") == BERT_JAN
                                                    and r["eventName"] in DROPPED)]
    fewer = str(write_log(tmp_path / "fewer" / "log.json.gz", records))
    only_unused = [*GENERATE, "--source", fewer, "--baseline", str(BASELINE)]
    assert run_cli(*only_unused, "--fail-on-drift").returncode == 0
    assert run_cli(*only_unused, "--fail-on-drift=any").returncode == 3


def test_update_baseline_rewrites_it_in_its_own_format(tmp_path):
    log = str(modified_log(tmp_path))
    target = tmp_path / "baseline.yaml"
    target.write_text(yaml.safe_dump({**json.loads(BASELINE.read_text()),
                                      "arn:aws:iam::111122223333:user/other": {"Statement": []}}))
    first = run_cli(*GENERATE, "--source", log, "--baseline", str(target), "--update-baseline")
    assert first.returncode == 0, first.stderr.decode()
    rewritten = yaml.safe_load(target.read_text())
    assert rewritten[BERT_JAN] == json.loads(first.stdout)[BERT_JAN]
    assert rewritten["arn:aws:iam::111122223333:user/other"] == {"Statement": []}  # not asked for: kept
    again = run_cli(*GENERATE, "--source", log, "--baseline", str(target), "--fail-on-drift=any")
    assert again.returncode == 0 and b"no drift" in again.stderr


def test_update_baseline_creates_a_first_baseline(tmp_path):
    target = tmp_path / "new.json"
    result = run_cli(*GENERATE, "--source", str(EXAMPLES / "logs"), "--baseline", str(target), "--update-baseline")
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(target.read_text()) == json.loads(result.stdout)


def test_diff_command(tmp_path):
    generated = tmp_path / "generated.json"
    generated.write_text(json.dumps({BERT_JAN: {"Version": "2012-10-17", "Statement": [
        {"Sid": "S3", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}}))
    result = run_cli("diff", str(BASELINE), str(generated), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr.decode()
    drift = json.loads(result.stdout)
    assert drift["identities"][BERT_JAN]["added"] == ["s3:GetObject"]
    assert "cloudtrail:CreateTrail" in drift["identities"][BERT_JAN]["unused"]
    assert drift == json.loads((tmp_path / "out" / "drift.json").read_text())
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| `s3:GetObject` | Read |  |  |  |  | not granted by the baseline |" in report
    assert run_cli("diff", str(BASELINE), str(generated), "--fail-on-drift").returncode == 3
    assert run_cli("diff", str(BASELINE), str(BASELINE), "--fail-on-drift=any").returncode == 0


def test_bad_usage_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("arn:aws:iam::1:user/a: {Statement: [{Effect: Allow, Action: 'not an action', Resource: '*'}]}")
    cases = [
        [*GENERATE, "--source", str(EXAMPLES / "logs"), "--fail-on-drift"],
        [*GENERATE, "--source", str(EXAMPLES / "logs"), "--baseline", str(bad)],
        [*GENERATE, "--source", str(EXAMPLES / "logs"), "--baseline", str(BASELINE), "--fail-on-drift=sometimes"],
        ["diff", str(tmp_path / "missing.json"), str(BASELINE)],
        ["diff", str(BASELINE), str(bad)],
    ]
    for args in cases:
        result = run_cli(*args)
        assert result.returncode == 2, args
        lines = result.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("trailpolicy: error: "), lines
        assert result.stdout == b""


def test_yaml_baseline_with_a_date_condition(tmp_path):
    dated = tmp_path / "dated.yaml"
    dated.write_text(f"""
{BERT_JAN}:
  Statement:
    - {{Effect: Allow, Action: s3:GetObject, Resource: "*", Condition: {{DateGreaterThan: {{aws:CurrentTime: 2024-01-01}}}}}}
    - {{Effect: Allow, Action: s3:PutObject, Resource: "*", Condition: {{DateLessThan: {{aws:CurrentTime: 2025-01-01}}}}}}
""")
    result = run_cli("diff", str(dated), str(BASELINE), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr.decode()
    drift = json.loads(result.stdout)["identities"][BERT_JAN]
    assert drift["uncertain"] == []  # bert-jan used neither action
    assert drift["unused"] == ["s3:GetObject", "s3:PutObject"]


def test_unusable_output_dir_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "taken").write_text("a file")
    for target in (tmp_path / "taken", tmp_path / "taken" / "out"):
        for args in ([*GENERATE, "--source", str(EXAMPLES / "logs"), "--output-dir", str(target)],
                     ["diff", str(BASELINE), str(BASELINE), "--output-dir", str(target)]):
            result = run_cli(*args)
            lines = result.stderr.decode().strip().splitlines()
            assert result.returncode == 2, lines
            assert len(lines) == 1 and lines[0].startswith(f"trailpolicy: error: --output-dir {target}: "), lines
            assert result.stdout == b""


def test_unwritable_baseline_on_update_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "taken").write_text("a file")
    result = run_cli(*GENERATE, "--source", str(EXAMPLES / "logs"), "--baseline", str(tmp_path / "taken" / "b.json"),
                     "--update-baseline")
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "cannot" in lines[0], lines
