"""Loading a baseline: JSON or YAML by extension, and one clear line for anything IAM would refuse."""

from __future__ import annotations

import json

import pytest
import yaml

from trailpolicy import baseline
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
