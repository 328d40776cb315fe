"""Reading and writing a baseline: identity ARN -> IAM policy document, JSON or YAML by extension.

A baseline is reviewed by people and may be edited by hand, so it is checked here, once, with an
error that names the identity and statement at fault: a typo must stop the run with exit 2, not
turn into silent drift.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml

from .canonical import as_list
from .errors import UsageError
from .render.data import dump

_EFFECTS = ("Allow", "Deny")
# IAM action patterns: "*", or "prefix:Name" where both parts may hold * and ? wildcards.
_PATTERN = re.compile(r"^(\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?-]+)$")


def format_of(path: Path) -> str:
    return "yaml" if path.suffix.lower() in (".yaml", ".yml") else "json"


def load(path: Path, what: str = "baseline") -> dict[str, dict]:
    """The document set in ``path``, checked; UsageError (one line) for anything IAM would refuse."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{what} {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what} {path}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text) if format_of(path) == "yaml" else json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        detail = " ".join(str(exc).split())
        raise UsageError(f"{what} {path}: not valid {format_of(path).upper()}: {detail}") from None
    return check(data, f"{what} {path}")


def check(data: object, where: str) -> dict[str, dict]:
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a mapping of identity ARN to policy document")
    for arn, document in data.items():
        if not isinstance(arn, str) or not isinstance(document, dict):
            raise UsageError(f"{where}: {arn!r} must map an identity ARN to a policy document")
        statements = document.get("Statement")
        if isinstance(statements, dict):
            statements = [statements]
        if not isinstance(statements, list):
            raise UsageError(f"{where}: {arn}: the policy has no Statement list")
        for n, statement in enumerate(statements):
            _check_statement(statement, f"{where}: {arn}: statement {n}")
    return data


def _check_statement(statement: object, where: str) -> None:
    if not isinstance(statement, dict):
        raise UsageError(f"{where}: not a mapping")
    if statement.get("Effect") not in _EFFECTS:
        raise UsageError(f"{where}: Effect must be Allow or Deny, not {statement.get('Effect')!r}")
    keys = [key for key in ("Action", "NotAction") if key in statement]
    if len(keys) != 1:
        raise UsageError(f"{where}: needs exactly one of Action or NotAction")
    resource_keys = [key for key in ("Resource", "NotResource") if key in statement]
    if len(resource_keys) != 1:
        raise UsageError(f"{where}: needs exactly one of Resource or NotResource")
    for key in keys + resource_keys:
        values = as_list(statement[key])
        if not values or not all(isinstance(v, str) for v in values):
            raise UsageError(f"{where}: {key} must be a string or a list of strings")
    for action in as_list(statement[keys[0]]):
        if not _PATTERN.match(action):
            raise UsageError(f"{where}: {action!r} is not an IAM action (service:Name, wildcards * and ?)")
    if "Condition" in statement and not isinstance(statement["Condition"], dict):
        raise UsageError(f"{where}: Condition must be a mapping")


def write(path: Path, documents: dict[str, dict]) -> None:
    """Replace ``path`` atomically, in the format its extension names."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(dump(documents, format_of(path)), encoding="utf-8")
    os.replace(temporary, path)
