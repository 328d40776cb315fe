"""Which events belong to which identity.

DESIGN.md fixes the semantics: an IAM user ARN matches that user's events; a role ARN matches
every session of the role (the event's session issuer); an assumed-role ARN matches that one
session; root and federated users match by their ARN; every partition. IAM names are unique per
account regardless of path and case, so users and roles are compared by (partition, account,
lower-cased name) — a role ARN given with or without its path matches the same sessions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UsageError
from .events import Principal

PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc")

_ARN = re.compile(
    r"^arn:(?P<partition>aws(?:-[a-z-]+)?):(?P<service>iam|sts)::(?P<account>\d{12}):(?P<resource>.+)$"
)


@dataclass(frozen=True, slots=True)
class IdentitySpec:
    """A parsed identity ARN: what a user asked a policy for, or what an event's principal is."""

    arn: str
    kind: str  # user | role | assumed-role | root | federated-user
    partition: str
    account: str
    name: str  # user/role name, session issuer role name, or federated user name ('' for root)
    session: str = ""  # the session name of an assumed-role ARN

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.kind, self.partition, self.account, self.name.lower(), self.session)


def parse_arn(arn: str) -> IdentitySpec | None:
    """Parse an identity ARN; None when it is not one of the identity kinds we understand."""
    match = _ARN.match(arn.strip())
    if not match:
        return None
    partition, service, account, resource = match.group("partition", "service", "account", "resource")
    if partition not in PARTITIONS:
        return None
    if service == "iam":
        if resource == "root":
            return IdentitySpec(arn, "root", partition, account, "")
        kind, _, rest = resource.partition("/")
        if kind in ("user", "role") and rest and not rest.endswith("/"):
            return IdentitySpec(arn, kind, partition, account, rest.rsplit("/", 1)[-1])
        return None
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role":
        role, _, session = rest.partition("/")
        if role and session and "/" not in session:
            return IdentitySpec(arn, "assumed-role", partition, account, role, session)
    elif kind == "federated-user" and rest and "/" not in rest:
        return IdentitySpec(arn, "federated-user", partition, account, rest)
    return None


def parse_identity_option(arn: str) -> IdentitySpec:
    """Parse an ``--identity`` value or raise UsageError with what forms are accepted."""
    spec = parse_arn(arn)
    if spec is None:
        raise UsageError(
            f"--identity {arn!r} is not an identity ARN; expected arn:aws:iam::ACCOUNT:user/NAME, "
            "arn:aws:iam::ACCOUNT:role/NAME, arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, "
            "arn:aws:iam::ACCOUNT:root or arn:aws:sts::ACCOUNT:federated-user/NAME"
        )
    return spec


def role_arn(spec: IdentitySpec) -> str:
    """The role ARN (without path) that an assumed-role session belongs to."""
    return f"arn:{spec.partition}:iam::{spec.account}:role/{spec.name}"


def principal_specs(principal: Principal) -> tuple[IdentitySpec, ...]:
    """The identities an event's principal *is*: itself, and for a session also its role."""
    own = parse_arn(principal.arn) if principal.arn else None
    if own is None:
        return ()
    if own.kind != "assumed-role":
        return (own,)
    issuer = parse_arn(principal.session_issuer_arn) if principal.session_issuer_arn else None
    if issuer is None or issuer.kind != "role":
        issuer = parse_arn(role_arn(own))
    assert issuer is not None
    return (own, issuer)


def policy_owner(principal: Principal) -> str | None:
    """The ARN that gets the policy when no identity was asked for.

    A session cannot carry a policy; its role can. So sessions fold into their role (as the
    session issuer names it, path included); users, root and federated users stand for themselves.
    """
    specs = principal_specs(principal)
    if not specs:
        return None
    return specs[-1].arn


class IdentityMatcher:
    """Answers, per event principal, which requested identities (or which owner) it counts for.

    Principals repeat across millions of events, so answers are cached per (arn, issuer).
    """

    def __init__(self, specs: tuple[IdentitySpec, ...]) -> None:
        self._by_key: dict[tuple, list[str]] = {}
        for spec in specs:
            self._by_key.setdefault(spec.key, []).append(spec.arn)
        self._any = not specs
        self._cache: dict[tuple[str | None, str | None], tuple[str, ...]] = {}

    def owners(self, principal: Principal) -> tuple[str, ...]:
        """Requested identity ARNs this principal's events count for; () when none."""
        cache_key = (principal.arn, principal.session_issuer_arn)
        found = self._cache.get(cache_key)
        if found is None:
            if self._any:
                owner = policy_owner(principal)
                found = (owner,) if owner else ()
            else:
                found = tuple(
                    arn for own in principal_specs(principal) for arn in self._by_key.get(own.key, ())
                )
            self._cache[cache_key] = found
        return found


def slug(arn: str) -> str:
    """A file name for an identity's policy: account, kind and name, safe on every file system."""
    spec = parse_arn(arn)
    if spec is None:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", arn).strip("-")
    else:
        resource = arn.split(":", 5)[5]
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{spec.account}-{resource}").strip("-")
        if spec.partition != "aws":
            base = f"{spec.partition}-{base}"
    return base[:200] or "identity"
