"""Identity matching as DESIGN.md fixes it: every kind, every partition, role paths."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trailpolicy.errors import UsageError
from trailpolicy.events import principal_of
from trailpolicy.identity import IdentityMatcher, parse_arn, parse_identity_option, policy_owner, slug

from .conftest import session_identity


def user(arn: str) -> dict:
    return {"type": "IAMUser", "arn": arn, "accountId": arn.split(":")[4]}


@pytest.mark.parametrize(
    ("arn", "kind", "name", "session"),
    [
        ("arn:aws:iam::111122223333:user/alice", "user", "alice", ""),
        ("arn:aws:iam::111122223333:user/team/a/alice", "user", "alice", ""),
        ("arn:aws:iam::111122223333:role/Deployer", "role", "Deployer", ""),
        ("arn:aws:iam::111122223333:role/service-role/Deployer", "role", "Deployer", ""),
        ("arn:aws:sts::111122223333:assumed-role/Deployer/ci-1", "assumed-role", "Deployer", "ci-1"),
        ("arn:aws:iam::111122223333:root", "root", "", ""),
        ("arn:aws:sts::111122223333:federated-user/bob", "federated-user", "bob", ""),
        ("arn:aws-cn:iam::111122223333:user/alice", "user", "alice", ""),
        ("arn:aws-us-gov:sts::111122223333:assumed-role/R/s@x.com", "assumed-role", "R", "s@x.com"),
    ],
)
def test_parse_every_kind(arn: str, kind: str, name: str, session: str) -> None:
    spec = parse_arn(arn)
    assert spec is not None
    assert (spec.kind, spec.name, spec.session, spec.account) == (kind, name, session, "111122223333")


@pytest.mark.parametrize(
    "arn",
    [
        "alice",
        "arn:aws:iam::1111:user/alice",  # short account
        "arn:aws:iam::111122223333:group/admins",  # a group is not an identity
        "arn:aws:s3:::bucket",
        "arn:aws:sts::111122223333:assumed-role/OnlyRole",  # session missing
        "arn:aws:iam::111122223333:user/",
        "arn:foo:iam::111122223333:user/alice",
        "arn:aws::sts:101010101111:assumed-role/UserRole/userid",  # malformed, seen in fixtures
    ],
)
def test_malformed_arns_are_refused(arn: str) -> None:
    assert parse_arn(arn) is None
    with pytest.raises(UsageError, match="not an identity ARN"):
        parse_identity_option(arn)


def owners(asked: list[str], identity: dict) -> tuple[str, ...]:
    return IdentityMatcher(tuple(parse_identity_option(a) for a in asked)).owners(principal_of(identity))


def test_user_matches_own_events_only() -> None:
    alice = "arn:aws:iam::111122223333:user/alice"
    assert owners([alice], user(alice)) == (alice,)
    assert owners([alice], user("arn:aws:iam::111122223333:user/bob")) == ()
    # same name, other account
    assert owners([alice], user("arn:aws:iam::999988887777:user/alice")) == ()


def test_user_with_path_matches_arn_without_path() -> None:
    asked = "arn:aws:iam::111122223333:user/alice"
    assert owners([asked], user("arn:aws:iam::111122223333:user/team/alice")) == (asked,)


def test_role_matches_every_session_with_and_without_path() -> None:
    role = "arn:aws:iam::111122223333:role/Deployer"
    role_with_path = "arn:aws:iam::111122223333:role/service-role/Deployer"
    for session in ("ci-1", "ci-2", "i-0123456789abcdef0"):
        event = session_identity("Deployer", session, path="/service-role/")
        assert owners([role], event) == (role,)
        assert owners([role_with_path], event) == (role_with_path,)
    assert owners([role], session_identity("Other", "ci-1")) == ()


def test_role_match_without_session_context_uses_the_session_arn() -> None:
    role = "arn:aws:iam::111122223333:role/Deployer"
    event = {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Deployer/x"}
    assert owners([role], event) == (role,)


def test_session_matches_that_session_only() -> None:
    asked = "arn:aws:sts::111122223333:assumed-role/Deployer/ci-1"
    assert owners([asked], session_identity("Deployer", "ci-1")) == (asked,)
    assert owners([asked], session_identity("Deployer", "ci-2")) == ()


def test_role_and_session_both_asked_both_count() -> None:
    role = "arn:aws:iam::111122223333:role/Deployer"
    session = "arn:aws:sts::111122223333:assumed-role/Deployer/ci-1"
    assert set(owners([role, session], session_identity("Deployer", "ci-1"))) == {role, session}


def test_root_and_federated() -> None:
    root = "arn:aws:iam::111122223333:root"
    fed = "arn:aws:sts::111122223333:federated-user/bob"
    assert owners([root], {"type": "Root", "arn": root, "accountId": "111122223333"}) == (root,)
    assert owners([fed], {"type": "FederatedUser", "arn": fed}) == (fed,)
    assert owners([root], {"type": "Root", "arn": "arn:aws:iam::999988887777:root"}) == ()


def test_partitions_must_agree() -> None:
    asked = "arn:aws-cn:iam::111122223333:role/Deployer"
    assert owners([asked], session_identity(partition="aws-cn")) == (asked,)
    assert owners([asked], session_identity(partition="aws")) == ()
    gov = "arn:aws-us-gov:iam::111122223333:user/alice"
    assert owners([gov], user(gov)) == (gov,)


def test_no_identity_asked_sessions_fold_into_their_role() -> None:
    principal = principal_of(session_identity("Deployer", "ci-9", path="/svc/"))
    assert policy_owner(principal) == "arn:aws:iam::111122223333:role/svc/Deployer"
    assert owners([], session_identity("Deployer", "ci-9", path="/svc/")) == ("arn:aws:iam::111122223333:role/svc/Deployer",)
    assert owners([], {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}) == ()


def test_slug_is_file_safe() -> None:
    assert slug("arn:aws:iam::123837392027:user/bert-jan") == "123837392027-user-bert-jan"
    assert slug("arn:aws:sts::1:x") == "arn-aws-sts-1-x"
    assert slug("arn:aws-cn:iam::111122223333:role/a/b") == "aws-cn-111122223333-role-a-b"


def test_cache_keeps_federated_users_of_one_issuer_apart() -> None:
    issuer = {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/broker", "accountId": "111122223333"}
    bob = {"type": "FederatedUser", "arn": "arn:aws:sts::111122223333:federated-user/bob",
           "sessionContext": {"sessionIssuer": issuer}}
    eve = {"type": "FederatedUser", "arn": "arn:aws:sts::111122223333:federated-user/eve",
           "sessionContext": {"sessionIssuer": issuer}}
    matcher = IdentityMatcher(())
    assert matcher.owners_of(bob) == ("arn:aws:sts::111122223333:federated-user/bob",)
    assert matcher.owners_of(eve) == ("arn:aws:sts::111122223333:federated-user/eve",)
    asked = IdentityMatcher((parse_identity_option("arn:aws:sts::111122223333:federated-user/eve"),))
    assert asked.owners_of(bob) == () and asked.owners_of(eve) == ("arn:aws:sts::111122223333:federated-user/eve",)


def test_cache_answers_match_uncached_answers_on_odd_principals() -> None:
    role_issuer = {"type": "Role", "arn": "arn:aws:iam::111122223333:role/Deployer"}
    odd = {"type": "AssumedRole", "arn": "arn:aws:iam::111122223333:root", "sessionContext": {"sessionIssuer": role_issuer}}
    normal = session_identity("Deployer", "ci-1")
    matcher = IdentityMatcher(())
    for identity in (odd, normal, odd):
        assert matcher.owners_of(identity) == matcher.owners(principal_of(identity))


def test_cache_keeps_sessions_naming_another_role_apart() -> None:
    issuer = {"type": "Role", "arn": "arn:aws:iam::111122223333:role/Deployer"}
    a = {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Deployer/s1",
         "sessionContext": {"sessionIssuer": issuer}}
    b = {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Other/s2",
         "sessionContext": {"sessionIssuer": issuer}}
    matcher = IdentityMatcher(())
    for identity in (a, b, a, b):
        assert matcher.owners_of(identity) == matcher.owners(principal_of(identity))


_ARNS = [
    "arn:aws:sts::111122223333:assumed-role/Deployer/s1", "arn:aws:sts::111122223333:assumed-role/Deployer/s2",
    "arn:aws:sts::111122223333:assumed-role/Other/s1", "arn:aws:sts::111122223333:assumed-role/Deployer",
    "arn:aws:sts::12:assumed-role/Deployer/s1", "arn:aws:iam::111122223333:root",
    "arn:aws:sts::111122223333:federated-user/bob", "arn:aws:iam::111122223333:user/alice",
    "arn:aws-cn:sts::111122223333:assumed-role/Deployer/s1", None,
]
_ISSUERS = ["arn:aws:iam::111122223333:role/Deployer", "arn:aws:iam::111122223333:role/ci/Deployer",
            "arn:aws:iam::111122223333:user/broker", "garbage", None]
_ASKED = ["arn:aws:iam::111122223333:role/Deployer", "arn:aws:iam::111122223333:user/alice",
          "arn:aws:sts::111122223333:assumed-role/Deployer/s1", "arn:aws:sts::111122223333:federated-user/bob",
          "arn:aws:iam::111122223333:root", "arn:aws-cn:iam::111122223333:role/Deployer"]


@given(
    asked=st.lists(st.sampled_from(_ASKED), max_size=3),
    identities=st.lists(st.tuples(st.sampled_from(_ARNS), st.sampled_from(_ISSUERS)), min_size=1, max_size=12),
)
def test_cached_owners_always_equal_uncached(asked: list[str], identities: list[tuple]) -> None:
    matcher = IdentityMatcher(tuple(parse_identity_option(a) for a in dict.fromkeys(asked)))
    for arn, issuer in identities:
        identity: dict = {"type": "AssumedRole", "arn": arn}
        if issuer:
            identity["sessionContext"] = {"sessionIssuer": {"arn": issuer}}
        assert matcher.owners_of(identity) == matcher.owners(principal_of(identity))
