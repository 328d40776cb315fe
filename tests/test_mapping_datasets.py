"""The mapping over the real CloudTrail datasets in ../shared/datasets/cloudtrail/.

Every action for every distinct call must exist in the IAM catalog; every call is mapped, skipped
or unmapped with a reason; calls that need a permission map (a small, named set of invented or
console-internal names in test fixtures excepted); and iam:PassRole is inferred from real records.
"""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

import orjson
import pytest

from trailpolicy import catalog
from trailpolicy.mapping import map_call, pass_role_actions, passed_roles

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "cloudtrail"

# Names that are not real API calls of their event source (invented in detection-rule fixtures) or
# console-internal calls with no IAM action in the Service Authorization Reference.
KNOWN_UNMAPPED = {
    ("cloudtrail.amazonaws.com", "DeleteRule"),
    ("cloudtrail.amazonaws.com", "DescribeTrail"),
    ("cloudtrail.amazonaws.com", "EnableRegion"),
    ("cloudtrail.amazonaws.com", "ExampleEvent"),
    ("ec2.amazonaws.com", "DeleteBucketEncryption"),
    ("ec2.amazonaws.com", "DeleteBucketPublicAccessBlock"),
    ("ec2.amazonaws.com", "DeleteBucketReplication"),
    ("ec2.amazonaws.com", "PutBucketLogging"),
    ("ec2.amazonaws.com", "RegisterManagedInstance"),
    ("ec2messages.amazonaws.com", "SendHeartbeat"),
    ("iam.amazonaws.com", "DescribePolicy"),
    ("iam.amazonaws.com", "DetachUserGroup"),
    ("iam.amazonaws.com", "NotCreateUser"),
    ("iam.amazonaws.com", "PutPolicy"),
    ("s3.amazonaws.com", "SetQueueAttributes"),
    ("sso.amazonaws.com", "DescribePermissionsPolicies"),
    ("support-subscription.amazonaws.com", "DescribeSupportLevelSummary"),
    ("support-subscription.amazonaws.com", "UpdateProbationAutoCancellation"),
    ("support-subscription.amazonaws.com", "UpdateSupportLevel"),
}


@cache
def _records() -> tuple[dict, ...]:
    if not DATASETS.is_dir():
        pytest.skip(f"datasets not found at {DATASETS}")
    out: list[dict] = []
    for path in sorted(DATASETS.glob("*.json.gz")):
        with gzip.open(path, "rb") as f:
            out.extend(orjson.loads(f.read())["Records"])
    return tuple(out)


def test_every_action_exists_and_every_call_is_accounted_for() -> None:
    calls = {(r["eventSource"], r["eventName"], r.get("eventType")) for r in _records()}
    assert len({c[:2] for c in calls}) >= 700
    unmapped = set()
    for call in calls:
        m = map_call(*call)
        assert sum([bool(m.actions), m.skip_reason is not None, m.unmapped_reason is not None]) == 1, call
        for action in m.actions:
            assert catalog.canonical(action) == action, (call, action)
        if m.unmapped_reason:
            unmapped.add(call[:2])
    assert unmapped <= KNOWN_UNMAPPED, sorted(unmapped - KNOWN_UNMAPPED)


def test_pass_role_inferred_from_real_records() -> None:
    found = {}
    for r in _records():
        roles = passed_roles(r["eventSource"], r["eventName"], r.get("requestParameters"))
        if roles:
            found[(r["eventSource"], r["eventName"])] = roles
            assert pass_role_actions(roles) == ("iam:PassRole",)
    assert ("lambda.amazonaws.com", "CreateFunction20150331") in found
    assert ("ec2.amazonaws.com", "RunInstances") in found
    for roles in found.values():
        for role in roles:
            assert role.startswith(("arn:aws", "instance-profile:", "role:")), role
