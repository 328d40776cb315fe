"""``iam:PassRole`` inference: which role a call handed to a service.

CloudTrail never logs ``iam:PassRole``: it is checked inside the call that passes the role
(``lambda:CreateFunction`` with ``Role``, ``ec2:RunInstances`` with an instance profile, ...).
``pass_role.yaml`` lists those calls and the request parameter keys that carry the role; this
module reads the role out of an event's ``requestParameters``.

What is returned, per passed role:
- a role ARN as written (``arn:aws:iam::123456789012:role/path/Name``);
- ``role:<name>`` when the parameter holds a bare role name;
- ``instance-profile:<arn or name>`` for an EC2 instance profile (the role inside it is passed,
  but CloudTrail only shows the profile);
- ``role:(redacted by CloudTrail)`` when CloudTrail hid the value: a role was passed, which one
  is unknown, and the permission must not be lost.

Speed: this runs for every event. The per-call key table is found by one cached lookup on
(event source, event name); only the few calls that pass roles walk their parameters.
"""

from __future__ import annotations

import re
from functools import cache

from trailpolicy.mapping._data import load, version_rules

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+")
_PROFILE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:instance-profile/.+")
_EMPTY: frozenset[str] = frozenset()
HIDDEN_ROLE = "role:(redacted by CloudTrail)"


@cache
def _table() -> dict[str, dict[str, dict]]:
    return {host.lower(): calls for host, calls in (load("pass_role.yaml").get("calls") or {}).items()}


@cache
def keys_for(event_source: str, event_name: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """(role keys, instance-profile keys), lower-cased, for a call that passes roles; else None."""
    host = event_source.strip().lower()
    calls = _table().get(host)
    if not calls:
        return None
    name = event_name.strip()
    entry = calls.get(name)
    if entry is None:
        rule = version_rules().get(host)
        match = rule[0].match(name) if rule else None
        entry = calls.get(match["name"]) if match else None
    if entry is None:
        return None
    return (
        frozenset(k.lower() for k in entry.get("role_keys") or ()),
        frozenset(k.lower() for k in entry.get("instance_profile_keys") or ()),
    )


def _role_values(value: object, out: set[str]) -> None:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return
        if _ROLE_ARN.match(text):
            out.add(text)
        elif _PROFILE_ARN.match(text):
            out.add(f"instance-profile:{text}")
        elif "HIDDEN" in text:
            # CloudTrail redacts some values (HIDDEN_DUE_TO_SECURITY_REASONS): a role was still
            # passed, so the permission stays, under a marker that says which one is unknown.
            out.add(HIDDEN_ROLE)
        elif not text.startswith("arn:"):
            out.add(f"role:{text}")
    elif isinstance(value, list):
        for item in value:
            _role_values(item, out)
    elif isinstance(value, dict):
        # Redshift ``iamRoles: [{iamRoleArn: ...}]`` style wrappers, or a role map by purpose.
        for item in value.values():
            _role_values(item, out)


def _profile_values(value: object, out: set[str]) -> None:
    if isinstance(value, str):
        if value.strip():
            out.add(f"instance-profile:{value.strip()}")
    elif isinstance(value, dict):
        # ``{"arn": ...}`` or ``{"name": ...}``; prefer the ARN, it says which account.
        text = value.get("arn") or value.get("name") or value.get("Arn") or value.get("Name")
        if isinstance(text, str) and text.strip():
            out.add(f"instance-profile:{text.strip()}")
    elif isinstance(value, list):
        for item in value:
            _profile_values(item, out)


def _walk(value: object, role_keys: frozenset[str], profile_keys: frozenset[str], out: set[str], depth: int) -> None:
    if depth > 12:
        return
    if isinstance(value, dict):
        path = value.get("path")
        if isinstance(path, str) and "value" in value:
            # A JSON-patch style update (API Gateway's patchOperations): the field is the path.
            field = path.rstrip("/").rsplit("/", 1)[-1].lower()
            if field in role_keys:
                _role_values(value["value"], out)
            elif field in profile_keys:
                _profile_values(value["value"], out)
        for key, item in value.items():
            lowered = key.lower() if isinstance(key, str) else ""
            if lowered in role_keys:
                _role_values(item, out)
            elif lowered in profile_keys:
                _profile_values(item, out)
            elif isinstance(item, (dict, list)):
                _walk(item, role_keys, profile_keys, out, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _walk(item, role_keys, profile_keys, out, depth + 1)


def passed_roles(event_source: str, event_name: str, request_parameters: dict | None) -> frozenset[str]:
    """The roles (and instance profiles) this call passed to the service; empty for most calls."""
    if not request_parameters:
        return _EMPTY
    keys = keys_for(event_source, event_name)
    if keys is None:
        return _EMPTY
    out: set[str] = set()
    _walk(request_parameters, keys[0], keys[1], out, 0)
    return frozenset(out) if out else _EMPTY


def pass_role_actions(roles: frozenset[str]) -> tuple[str, ...]:
    return ("iam:PassRole",) if roles else ()
