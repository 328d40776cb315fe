"""CloudTrail call -> IAM actions: the mapping that decides what goes into a policy.

A call is named by CloudTrail's ``eventSource`` and ``eventName``; IAM names permissions by
``prefix:Action``. The two often differ (``s3 ListObjects`` needs ``s3:ListBucket``, Lambda writes
``CreateFunction20150331``, API Gateway is authorized by HTTP verb), so the facts live in data files
under ``mapping/data/`` (each with its source) and this package applies them. Every action it
returns exists in the IAM catalog (``trailpolicy.catalog``); a call it cannot map is reported with a
reason, never guessed. See ``docs/mapping.md``.

Importing this package is cheap: the data is read on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from trailpolicy.mapping.passrole import pass_role_actions, passed_roles

__all__ = [
    "Mapping",
    "explain",
    "map_call",
    "pass_role_actions",
    "passed_roles",
]


@dataclass(frozen=True, slots=True)
class Mapping:
    """What one call needs. Exactly one of: ``actions`` non-empty, ``skip_reason``, ``unmapped_reason``."""

    actions: tuple[str, ...]
    skip_reason: str | None = None
    unmapped_reason: str | None = None
    rules: tuple[str, ...] = ()


@cache
def map_call(event_source: str, event_name: str, event_type: str | None = None) -> Mapping:
    """The IAM actions one CloudTrail call needs (memoised; pure)."""
    from trailpolicy.mapping.resolve import resolve

    result = resolve(event_source, event_name, event_type)
    rules = tuple(result.get("rules") or ())
    actions = tuple(sorted(set(result.get("actions") or ())))
    if actions:
        return Mapping(actions=actions, rules=rules)
    if result.get("skip_reason"):
        return Mapping(actions=(), skip_reason=result["skip_reason"], rules=rules)
    return Mapping(actions=(), unmapped_reason=result.get("unmapped_reason") or "no action found", rules=rules)


def explain(event_source: str, event_name: str, event_type: str | None = None) -> str:
    """Multi-line text: the actions a call maps to, their access levels, and why."""
    from trailpolicy.mapping.explain import render

    return render(event_source, event_name, event_type)
