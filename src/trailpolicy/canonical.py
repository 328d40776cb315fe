"""The canonical form of any policy document set, so that a patch is about content, not layout.

A baseline may be hand-edited (any statement order, ``Action`` as a string or a list, actions
spelled in any case, one big statement or many). Both sides of a diff are brought to the layout
that ``generate`` writes (DESIGN.md, "Policy documents are canonical") as far as the content
allows: every unconditional Allow on ``"*"`` is regrouped into one statement per service prefix;
statements that carry more meaning (Deny, NotAction, Condition, scoped resources) are kept whole,
with their lists sorted, after the grouped ones. The function is idempotent, and a generated
document set is already in this form.
"""

from __future__ import annotations

import json

from . import catalog
from .policy import allow_statements

# Keys that may differ between two statements without changing what is allowed.
_LAYOUT_ONLY = {"Sid", "Effect", "Action", "Resource"}


def jsonable(value: object) -> object:
    """``value`` with only JSON types: mapping keys as strings, other scalars (a YAML date,
    bytes, a set) as their text. IAM reads every condition key and value as a string, so this
    changes nothing a policy means; it keeps sorting and serialising from failing on them."""
    if isinstance(value, dict):
        return {key if isinstance(key, str) else _key_text(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(str(jsonable(item)) for item in value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _key_text(key: object) -> str:
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    return str(jsonable(key))


def _order(statement: dict) -> str:
    """A total order on kept statements that no value in them can break."""
    return json.dumps(jsonable(statement), sort_keys=True, default=str)


def as_list(value: object) -> list:
    """IAM writes a single element as a plain string; a list is the same thing."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def spelling(action: str) -> str:
    """The catalog spelling of an action, or the pattern as written with its prefix lower-cased."""
    if action == "*":
        return action
    known = catalog.canonical(action)
    if known is not None:
        return known
    prefix, _, name = action.partition(":")
    return f"{prefix.lower()}:{name}"


def _resources(value: object) -> str | list[str]:
    items = sorted(set(as_list(value)))
    return items[0] if len(items) == 1 else items


def is_plain(statement: dict) -> bool:
    """An unconditional Allow of listed actions on every resource: the only kind ``generate`` writes."""
    return (
        statement.get("Effect") == "Allow"
        and "Action" in statement
        and set(statement) <= _LAYOUT_ONLY
        and as_list(statement.get("Resource")) == ["*"]
    )


def canonical_document(document: dict) -> dict:
    statements = as_list(document.get("Statement"))
    plain: set[str] = set()
    kept: list[dict] = []
    for statement in statements:
        if is_plain(statement):
            plain.update(spelling(a) for a in as_list(statement["Action"]))
            continue
        rewritten = dict(statement)
        for key in ("Action", "NotAction"):
            if key in rewritten:
                rewritten[key] = sorted({spelling(a) for a in as_list(rewritten[key])})
        for key in ("Resource", "NotResource"):
            if key in rewritten:
                rewritten[key] = _resources(rewritten[key])
        kept.append(rewritten)
    kept.sort(key=_order)
    result = {key: value for key, value in document.items() if key != "Statement"}
    result["Statement"] = allow_statements(plain) + kept
    return result


def canonical_documents(documents: dict[str, dict]) -> dict[str, dict]:
    return {arn: canonical_document(documents[arn]) for arn in sorted(documents)}
