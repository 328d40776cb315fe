"""Behaviour of trailpolicy.mapping: the contract others code against, and the named defects."""

from __future__ import annotations

import subprocess
import sys

import pytest

from trailpolicy import catalog
from trailpolicy.mapping import Mapping, explain, map_call, pass_role_actions, passed_roles


def _one_of(m: Mapping) -> int:
    return sum([bool(m.actions), m.skip_reason is not None, m.unmapped_reason is not None])


@pytest.mark.parametrize(
    ("source", "name", "expected"),
    [
        # prefix differs from the host
        ("monitoring.amazonaws.com", "PutMetricAlarm", ["cloudwatch:PutMetricAlarm"]),
        ("tagging.amazonaws.com", "GetResources", ["tag:GetResources"]),
        ("cloudcontrolapi.amazonaws.com", "CreateResource", ["cloudformation:CreateResource"]),
        ("email.amazonaws.com", "SendEmail", ["ses:SendEmail"]),
        ("api.ecr.amazonaws.com", "GetAuthorizationToken", ["ecr:GetAuthorizationToken"]),
        ("streams.dynamodb.amazonaws.com", "GetRecords", ["dynamodb:GetRecords"]),
        ("elasticloadbalancing.amazonaws.com", "CreateLoadBalancerPolicy", ["elasticloadbalancing:CreateLoadBalancerPolicy"]),
        ("elasticloadbalancing.amazonaws.com", "CreateTargetGroup", ["elasticloadbalancing:CreateTargetGroup"]),
        # the defects named in the issue
        ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", ["lambda:UpdateFunctionCode"]),
        ("lambda.amazonaws.com", "CreateFunction20150331", ["lambda:CreateFunction"]),
        ("lambda.amazonaws.com", "Invoke", ["lambda:InvokeFunction"]),
        ("s3.amazonaws.com", "GetBucketEncryption", ["s3:GetEncryptionConfiguration"]),
        ("s3.amazonaws.com", "PutBucketReplication", ["s3:PutReplicationConfiguration"]),
        ("rds.amazonaws.com", "RestoreDBInstanceFromS3", ["rds:RestoreDBInstanceFromS3"]),
        ("cloudfront.amazonaws.com", "CreateDistribution2020_05_31", ["cloudfront:CreateDistribution"]),
        ("kms.amazonaws.com", "ReEncrypt", ["kms:ReEncryptFrom", "kms:ReEncryptTo"]),
        ("apigateway.amazonaws.com", "CreateRestApi", ["apigateway:POST"]),
    ],
)
def test_known_mappings(source: str, name: str, expected: list[str]) -> None:
    m = map_call(source, name, "AwsApiCall")
    assert list(m.actions) == sorted(expected), m
    assert _one_of(m) == 1
    assert all(catalog.exists(a) and catalog.canonical(a) == a for a in m.actions)
    assert m.rules


def test_non_api_event_types_are_skipped_case_insensitively() -> None:
    for event_type in ("AwsServiceEvent", "AwsConsoleSignIn", "AwsConsoleSignin", "AwsVpceEvent", "AwsCloudTrailInsight"):
        m = map_call("kms.amazonaws.com", "Decrypt", event_type)
        assert m.skip_reason and not m.actions and m.unmapped_reason is None


def test_calls_needing_no_permission_are_skipped() -> None:
    assert map_call("sts.amazonaws.com", "GetCallerIdentity").skip_reason
    assert map_call("signin.amazonaws.com", "ConsoleLogin").skip_reason
    assert map_call("cognito-idp.amazonaws.com", "Token_POST", "AwsApiCall").skip_reason


def test_unknown_calls_are_unmapped_with_a_reason() -> None:
    m = map_call("iam.amazonaws.com", "NotCreateUser")
    assert m.unmapped_reason and not m.actions and m.skip_reason is None
    m = map_call("nosuchservice.amazonaws.com", "DoThing")
    assert m.unmapped_reason and "nosuchservice" in m.unmapped_reason


def test_version_rule_only_for_versioned_sources() -> None:
    # a digit-bearing name in a source that does not version its names is left alone
    assert map_call("rds.amazonaws.com", "CreateDBInstance20150331").unmapped_reason
    # and a stripped name must exist
    assert map_call("lambda.amazonaws.com", "NoSuchCall20150331").unmapped_reason


def test_event_name_whitespace_is_ignored() -> None:
    assert map_call("ec2-instance-connect.amazonaws.com", "SendSSHPublicKey ").actions == (
        "ec2-instance-connect:SendSSHPublicKey",
    )


def test_passed_roles_lambda_and_ec2() -> None:
    role = "arn:aws:iam::123456789012:role/service/exec"
    assert passed_roles("lambda.amazonaws.com", "CreateFunction20150331", {"functionName": "f", "role": role}) == {role}
    profile = {"iamInstanceProfile": {"arn": "arn:aws:iam::123456789012:instance-profile/web"}}
    assert passed_roles("ec2.amazonaws.com", "RunInstances", profile) == {
        "instance-profile:arn:aws:iam::123456789012:instance-profile/web"
    }
    assert passed_roles("ec2.amazonaws.com", "RunInstances", {"instancesSet": {}}) == frozenset()
    assert passed_roles("ec2.amazonaws.com", "DescribeInstances", profile) == frozenset()
    assert passed_roles("sts.amazonaws.com", "AssumeRole", {"roleArn": role}) == frozenset()
    assert pass_role_actions(frozenset({role})) == ("iam:PassRole",)
    assert pass_role_actions(frozenset()) == ()


def test_passed_roles_nested_keys() -> None:
    params = {
        "family": "web",
        "taskRoleArn": "arn:aws:iam::123456789012:role/task",
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
    }
    assert passed_roles("ecs.amazonaws.com", "RegisterTaskDefinition", params) == {
        "arn:aws:iam::123456789012:role/task",
        "arn:aws:iam::123456789012:role/exec",
    }
    stack = {"stackName": "s", "roleARN": "arn:aws-us-gov:iam::123456789012:role/cfn"}
    assert passed_roles("cloudformation.amazonaws.com", "CreateStack", stack) == {"arn:aws-us-gov:iam::123456789012:role/cfn"}


def test_explain_names_actions_levels_and_sources() -> None:
    text = explain("s3.amazonaws.com", "ListObjects")
    assert "s3:ListBucket" in text and "List" in text and "https://docs.aws.amazon.com" in text
    text = explain("lambda.amazonaws.com", "CreateFunction20150331")
    assert "iam:PassRole" in text and "versions its event names" in text


def test_import_is_fast_and_lazy() -> None:
    code = (
        "import sys, time; t=time.perf_counter(); import trailpolicy.mapping; "
        "print(time.perf_counter()-t); print('yaml' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert float(out[0]) < 0.5
    assert out[1] == "False"


def test_pass_role_from_patch_operations_and_redacted_values() -> None:
    from trailpolicy.mapping import passed_roles
    from trailpolicy.mapping.passrole import HIDDEN_ROLE

    role = "arn:aws:iam::111122223333:role/apigw-logs"
    patch = {"patchOperations": [{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}]}
    assert passed_roles("apigateway.amazonaws.com", "UpdateAccount", patch) == {role}
    other = {"patchOperations": [{"op": "replace", "path": "/description", "value": role}]}
    assert passed_roles("apigateway.amazonaws.com", "UpdateAccount", other) == frozenset()
    hidden = {"taskRoleArn": "HIDDEN_DUE_TO_SECURITY_REASONS"}
    assert passed_roles("ecs.amazonaws.com", "RegisterTaskDefinition", hidden) == {HIDDEN_ROLE}


def test_launch_templates_pass_no_role_when_created() -> None:
    from trailpolicy.mapping import passed_roles

    params = {"launchTemplateData": {"iamInstanceProfile": {"arn": "arn:aws:iam::111122223333:instance-profile/x"}}}
    assert passed_roles("ec2.amazonaws.com", "CreateLaunchTemplate", params) == frozenset()


def test_directory_bucket_calls_map_to_s3express() -> None:
    assert map_call("s3express.amazonaws.com", "ListDirectoryBuckets").actions == ("s3express:ListAllMyDirectoryBuckets",)
    assert map_call("s3express.amazonaws.com", "PutBucketEncryption").actions == ("s3express:PutEncryptionConfiguration",)
