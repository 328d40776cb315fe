"""From observations to canonical IAM policy documents, one per identity.

Canonical means stable under diff: Version 2012-10-17, one Allow statement per service prefix,
``Sid`` the prefix in CamelCase letters and digits, ``Action`` sorted and unique, ``Resource``
``"*"``, statements sorted by Sid (then by actions, for a baseline's wildcard prefixes that share
a Sid). Only catalog actions get here: the mapping guarantees it and
``document`` checks it again, because a policy with an invented action is the one failure this
tool exists to prevent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from . import catalog, mapping
from .events import Observation
from .tally import Tally

VERSION = "2012-10-17"


def sid(prefix: str) -> str:
    """``resource-groups`` -> ``ResourceGroups``; ``s3`` -> ``S3``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", prefix) if part)


def document(actions: set[str] | list[str] | tuple[str, ...]) -> dict:
    """The canonical policy document granting exactly ``actions``."""
    checked = set()
    for action in actions:
        canonical = catalog.canonical(action)
        if canonical is None:
            raise ValueError(f"refusing to put {action!r} into a policy: it is not in the IAM catalog")
        checked.add(canonical)
    return {"Version": VERSION, "Statement": allow_statements(checked)}


def allow_statements(actions: set[str]) -> list[dict]:
    """One unconditional Allow statement on ``"*"`` per service prefix, sorted by Sid.

    Shared with the canonical form of baselines (``canonical.py``), where ``actions`` may hold
    wildcards as written; ``*`` alone gets the Sid ``All``.
    """
    by_prefix: dict[str, set[str]] = {}
    for action in actions:
        by_prefix.setdefault(action.split(":", 1)[0], set()).add(action)
    statements = [
        {"Sid": sid(prefix) or "All", "Effect": "Allow", "Action": sorted(names), "Resource": "*"}
        for prefix, names in by_prefix.items()
    ]
    # Wildcard prefixes ("s3*", "s3?") share the Sid of their plain prefix, so the Sid alone is not
    # a total order; the actions break the tie, whatever order the set gave.
    statements.sort(key=lambda s: (s["Sid"], s["Action"]))
    return statements


@dataclass
class ActionUse:
    """How an action was exercised: by which calls, how often, when, and how many were denied."""

    count: int = 0
    denied: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    calls: set[str] = field(default_factory=set)

    def add(self, observation: Observation) -> None:
        self.count += observation.count
        if observation.call.denied:
            self.denied += observation.count
        if self.first_seen is None or observation.first_seen < self.first_seen:
            self.first_seen = observation.first_seen
        if self.last_seen is None or observation.last_seen > self.last_seen:
            self.last_seen = observation.last_seen
        self.calls.add(f"{observation.call.event_source}:{observation.call.event_name}")


@dataclass
class IdentityPolicy:
    arn: str
    events: int = 0
    actions: dict[str, ActionUse] = field(default_factory=dict)
    # Calls that need no permission or map to nothing: "source:name" -> {reason, count}
    skipped: dict[str, dict] = field(default_factory=dict)
    unmapped: dict[str, dict] = field(default_factory=dict)
    # Roles passed to services, which is why iam:PassRole is in the policy.
    passed_roles: dict[str, dict] = field(default_factory=dict)

    @property
    def document(self) -> dict:
        return document(self.actions)


@dataclass
class PolicySet:
    identities: dict[str, IdentityPolicy] = field(default_factory=dict)

    def documents(self) -> dict[str, dict]:
        return {arn: self.identities[arn].document for arn in sorted(self.identities)}


def build_policies(tally: Tally) -> PolicySet:
    """Map every observation and gather the results per identity."""
    result = PolicySet()
    for (identity, call), observation in sorted(tally.observations.items(), key=lambda kv: kv[0][0]):
        policy = result.identities.setdefault(identity, IdentityPolicy(identity))
        policy.events += observation.count
        mapped = mapping.map_call(call.event_source, call.event_name, call.event_type)
        name = f"{call.event_source}:{call.event_name}"
        if mapped.skip_reason is not None:
            _count(policy.skipped, name, mapped.skip_reason, observation)
            continue
        if mapped.unmapped_reason is not None:
            _count(policy.unmapped, name, mapped.unmapped_reason, observation)
            continue
        for action in mapped.actions:
            policy.actions.setdefault(action, ActionUse()).add(observation)
        for action in mapping.pass_role_actions(call.passed_roles):
            policy.actions.setdefault(action, ActionUse()).add(observation)
        for role in call.passed_roles:
            entry = policy.passed_roles.setdefault(role, {"role": role, "calls": {}, "count": 0})
            entry["calls"][name] = entry["calls"].get(name, 0) + observation.count
            entry["count"] += observation.count
    return result


def _count(table: dict[str, dict], name: str, reason: str, observation: Observation) -> None:
    entry = table.setdefault(name, {"call": name, "reason": reason, "count": 0, "denied": 0})
    entry["count"] += observation.count
    if observation.call.denied:
        entry["denied"] += observation.count
