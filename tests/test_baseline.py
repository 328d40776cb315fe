"""Loading a baseline: JSON or YAML by extension, and one clear line for anything IAM would refuse."""

from __future__ import annotations

import json

import pytest
import yaml

from trailpolicy import baseline
from trailpolicy.canonical import canonical_documents
from trailpolicy.errors import UsageError
from trailpolicy.policy import document

ARN = "arn:aws:iam::111122223333:user/alice"
DOCS = {ARN: document(["s3:GetObject", "iam:PassRole"])}


@pytest.mark.parametrize("name, dump", [("b.json", json.dumps), ("b.yaml", yaml.safe_dump), ("b.YML", yaml.safe_dump)])
def test_json_and_yaml_by_extension(tmp_path, name, dump):
    path = tmp_path / name
    path.write_text(dump(DOCS))
    assert baseline.load(path) == DOCS


@pytest.mark.parametrize("name", ["b.json", "b.yaml"])
def test_write_round_trips_in_the_format_of_the_extension(tmp_path, name):
    path = tmp_path / name
    baseline.write(path, DOCS)
    assert baseline.load(path) == DOCS
    assert path.read_text().lstrip().startswith("{") == name.endswith(".json")
    assert [p.name for p in tmp_path.iterdir()] == [name]


def _statement(**fields):
    return {ARN: {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                          "Resource": "*", **fields}]}}


BAD = {
    "not json": ("b.json", "{not json", "not valid JSON"),
    "not yaml": ("b.yaml", "a: [b", "not valid YAML"),
    "a list": ("b.json", "[]", "expected a mapping of identity ARN to policy document"),
    "document not a mapping": ("b.json", json.dumps({ARN: "s3:*"}), "must map an identity ARN"),
    "no statements": ("b.json", json.dumps({ARN: {"Version": "2012-10-17"}}), "has no Statement list"),
    "bad effect": ("b.json", json.dumps(_statement(Effect="allow")), "Effect must be Allow or Deny"),
    "action and notaction": ("b.json", json.dumps(_statement(NotAction="s3:*")), "exactly one of Action or NotAction"),
    "no resource": ("b.json", json.dumps({ARN: {"Statement": {"Effect": "Allow", "Action": "s3:*"}}}),
                    "exactly one of Resource or NotResource"),
    "empty action list": ("b.json", json.dumps(_statement(Action=[])), "Action must be a string or a list"),
    "not an action": ("b.json", json.dumps(_statement(Action="s3GetObject")), "'s3GetObject' is not an IAM action"),
    "condition not a mapping": ("b.json", json.dumps(_statement(Condition="yes")), "Condition must be a mapping"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_baseline_is_one_line(tmp_path, case):
    name, text, message = BAD[case]
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UsageError) as error:
        baseline.load(path)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert str(error.value).startswith(f"baseline {path}")


def test_missing_baseline(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        baseline.load(tmp_path / "nope.json")


def test_yaml_dates_and_other_non_json_scalars_stay_text(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text(f"""
{ARN}:
  Statement:
    - Effect: Allow
      Action: s3:GetObject
      Resource: "*"
      Condition:
        DateGreaterThan: {{aws:CurrentTime: 2024-01-01}}
        DateLessThan: {{aws:CurrentTime: 2024-06-30T12:00:00Z}}
    - Effect: Allow
      Action: s3:PutObject
      Resource: "*"
      Condition:
        NumericEquals: {{1: 2}}
        Bool: {{true: yes}}
        StringEquals: {{aws:RequestTag/when: !!timestamp 2024-02-03}}
""")
    loaded = baseline.load(path)
    first, second = loaded[ARN]["Statement"]
    # IAM reads condition values as strings: the text as written, not a date.
    assert first["Condition"] == {"DateGreaterThan": {"aws:CurrentTime": "2024-01-01"},
                                  "DateLessThan": {"aws:CurrentTime": "2024-06-30T12:00:00Z"}}
    assert second["Condition"]["NumericEquals"] == {"1": 2}
    assert second["Condition"]["Bool"] == {"true": True}
    assert second["Condition"]["StringEquals"] == {"aws:RequestTag/when": "2024-02-03"}
    json.dumps(loaded)
    assert len(canonical_documents(loaded)[ARN]["Statement"]) == 2


@pytest.mark.parametrize("name, text", [
    ("deep.json", "[" * 100_000 + "]" * 100_000),
    ("deep.yaml", "[" * 100_000 + "]" * 100_000),
    ("deep-condition.json", json.dumps(_statement(Condition={"StringEquals": json.loads(
        "{" + '"k": {' * 900 + "}" * 901)}))),
    ("cycle.yaml", f"{ARN}: &doc\n  Statement: []\n  Self: *doc\n"),
])
def test_deeply_nested_baseline_is_bad_input(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UsageError) as error:
        baseline.load(path)
    assert "nested too deeply" in str(error.value) and "\n" not in str(error.value)


def test_alias_bomb_is_bad_input_not_a_hang(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UsageError, match="too large"):
        baseline.load(path)


def test_unwritable_baseline_is_bad_input(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError) as error:
        baseline.write(tmp_path / "file" / "b.json", DOCS)
    assert "cannot write" in str(error.value)


@pytest.mark.parametrize("action", ["s3:GetObject\n", "*\n", "s3:Get*\n"])
def test_action_with_a_trailing_newline_is_not_an_action(tmp_path, action):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(_statement(Action=action)))
    with pytest.raises(UsageError, match="is not an IAM action"):
        baseline.load(path)
