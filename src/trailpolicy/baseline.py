"""Reading and writing a baseline: identity ARN -> IAM policy document, JSON or YAML by extension.

A baseline is reviewed by people and may be edited by hand, so it is checked here, once, with an
error that names the identity and statement at fault: a typo must stop the run with exit 2, not
turn into silent drift.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

import yaml

from .canonical import as_list, jsonable
from .errors import UsageError
from .render.data import dump

_EFFECTS = ("Allow", "Deny")
# IAM action patterns: "*", or "prefix:Name" where both parts may hold * and ? wildcards.
# Matched with fullmatch: "$" would also accept a trailing newline.
_PATTERN = re.compile(r"\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?-]+")
# An IAM document nests about seven levels (set, document, Statement, statement, Condition,
# operator, key, values); anything far deeper is not a policy, and must not reach code that
# recurses. The node budget stops YAML aliases that expand to billions of nodes.
MAX_DEPTH = 32
MAX_NODES = 1_000_000


class _YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that dates and times stay the text they were written as:
    IAM compares ``aws:CurrentTime`` and every other condition value as strings."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


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
    yaml_format = format_of(path) == "yaml"
    try:
        data = yaml.load(text, Loader=_YamlLoader) if yaml_format else json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        detail = " ".join(str(exc).split())
        raise UsageError(f"{what} {path}: not valid {format_of(path).upper()}: {detail}") from None
    except RecursionError:
        raise UsageError(f"{what} {path}: nested too deeply to be a policy document set") from None
    _check_size(data, f"{what} {path}")
    return check(jsonable(data) if yaml_format else data, f"{what} {path}")


def _check_size(data: object, where: str) -> None:
    """Refuse documents nested deeper than MAX_DEPTH (a YAML cycle is infinitely deep) or holding
    more than MAX_NODES values, without recursing."""
    stack = [(data, 0)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise UsageError(f"{where}: too large to be a policy document set (over {MAX_NODES:,} values)")
        if isinstance(value, dict | list | tuple | set | frozenset):
            if depth >= MAX_DEPTH:
                raise UsageError(f"{where}: nested too deeply to be a policy document set")
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)


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
        if not _PATTERN.fullmatch(action):
            raise UsageError(f"{where}: {action!r} is not an IAM action (service:Name, wildcards * and ?)")
    if "Condition" in statement and not isinstance(statement["Condition"], dict):
        raise UsageError(f"{where}: Condition must be a mapping")


def write(path: Path, documents: dict[str, dict]) -> None:
    """Replace ``path`` atomically, in the format its extension names."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(dump(documents, format_of(path)), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise UsageError(f"baseline {path}: cannot write: {exc.strerror or exc}") from None
