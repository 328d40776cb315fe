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
from .events import BadRecord, Principal, principal_of

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
    """Answers, per event, which requested identities (or which owner) it counts for.

    Principals repeat across millions of events, so answers are cached per (arn, session
    issuer), read straight from the record's ``userIdentity``. The cache is bounded so that an
    archive with very many sessions cannot grow it without limit.
    """

    CACHE_MAX = 200_000

    def __init__(self, specs: tuple[IdentitySpec, ...]) -> None:
        self._by_key: dict[tuple, list[str]] = {}
        for spec in specs:
            self._by_key.setdefault(spec.key, []).append(spec.arn)
        self._any = not specs
        # Unless a single session was asked for, every session of a role counts for the same
        # owners, so role sessions are cached by their role (the session issuer) alone: an
        # archive has many more sessions than roles. Other principals with an issuer (federated
        # users issued by one IAM user) differ per ARN and are cached per ARN.
        self._by_issuer = not any(spec.kind == "assumed-role" for spec in specs)
        self._cache: dict[object, tuple[str, ...]] = {}

    def owners(self, principal: Principal) -> tuple[str, ...]:
        """Requested identity ARNs this principal's events count for; () when none."""
        if self._any:
            owner = policy_owner(principal)
            return (owner,) if owner else ()
        return tuple(arn for own in principal_specs(principal) for arn in self._by_key.get(own.key, ()))

    def owners_of(self, identity: object) -> tuple[str, ...]:
        """``owners`` for a record's raw ``userIdentity``, cached."""
        if identity.__class__ is not dict:
            return ()
        arn = identity.get("arn")  # type: ignore[attr-defined]
        context = identity.get("sessionContext")  # type: ignore[attr-defined]
        issuer = None
        if context.__class__ is dict:
            issuer_obj = context.get("sessionIssuer")  # type: ignore[union-attr]
            if issuer_obj.__class__ is dict:
                issuer = issuer_obj.get("arn")  # type: ignore[union-attr]
        if not (arn is None or arn.__class__ is str) or not (issuer is None or issuer.__class__ is str):
            raise BadRecord("userIdentity.arn or its sessionIssuer.arn is not text")
        key: object = (arn, issuer)
        if self._by_issuer and issuer.__class__ is str and arn.__class__ is str and ":assumed-role/" in arn:
            head, _, session = arn.rpartition("/")
            if session and head.count("/") == 1:
                # Every session of one role has the same owners: key by the issuer and the ARN
                # up to the session name, which together decide the answer for any session name.
                key = (issuer, head)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= self.CACHE_MAX:
                self._cache.clear()
            found = self._cache[key] = self.owners(principal_of(identity))  # type: ignore[arg-type]
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
