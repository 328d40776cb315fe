"""Least-privilege drift: what a workload used against what a reviewed baseline grants.

The comparison is semantic, the way IAM evaluates an identity policy, not textual: ``s3:GetObject``
is granted by ``s3:Get*``, ``s3:*`` or ``*`` (names compared case-insensitively), an explicit Deny
wins over any Allow, ``NotAction`` grants or denies everything it does not list. What cannot be
decided from the policy alone is reported as uncertain and never guessed: a grant under a
``Condition``, or on some resources only (``Resource`` other than ``"*"``, or ``NotResource``).

Alongside the semantic drift comes an RFC 6902 patch from the canonical baseline to the generated
documents, so that a reviewer (or ``--update-baseline``) sees exactly what would change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import jsonpatch

from . import catalog
from .canonical import as_list, canonical_documents
from .errors import UsageError

# --fail-on-drift=WHEN (CLI) and fail-on-drift (Action): when drift turns into exit status 3.
FAIL_ON_DRIFT = ("never", "added", "high-risk", "any")
HIGH_RISK_LEVEL = "Permissions management"
# Not "Permissions management" in the catalog, but lets a principal hand any role it may pass to a
# service, which is how privilege escalates in practice.
HIGH_RISK_ACTIONS = frozenset({"iam:passrole"})

# Identity status in a drift.
NEW, MISSING, CHANGED, UNCHANGED = "new", "missing", "changed", "unchanged"


def _plural(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def high_risk(action: str) -> bool:
    """The catalog writes combined levels (``Permissions management, Write``); any mention counts."""
    level = catalog.access_level(action) or ""
    return action.lower() in HIGH_RISK_ACTIONS or HIGH_RISK_LEVEL in level.split(", ")


def is_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


@dataclass(frozen=True)
class Rule:
    """One baseline statement, reduced to what decides whether it applies to an action."""

    effect: str
    patterns: tuple[str, ...]
    negated: bool  # NotAction: applies to every action it does not list
    conditional: bool
    scoped: bool  # some resources only (Resource not "*", or NotResource)

    @classmethod
    def of(cls, statement: dict) -> Rule:
        negated = "NotAction" in statement
        resources = as_list(statement.get("Resource"))
        return cls(
            effect=statement["Effect"],
            patterns=tuple(as_list(statement["NotAction" if negated else "Action"])),
            negated=negated,
            conditional=bool(statement.get("Condition")),
            scoped="NotResource" in statement or "*" not in resources,
        )

    def covers(self, action: str) -> bool:
        return any(catalog.matches(p, action) for p in self.patterns) != self.negated

    @property
    def certain(self) -> bool:
        return not (self.conditional or self.scoped)

    @property
    def limits(self) -> str:
        return " and ".join(
            text for flag, text in ((self.conditional, "under a Condition"), (self.scoped, "on some resources only"))
            if flag
        )


@dataclass
class ActionFinding:
    """A used action the baseline does not (or not certainly) grant."""

    action: str
    access_level: str | None
    high_risk: bool
    reason: str
    count: int | None = None
    denied: int | None = None
    first_seen: str | None = None


@dataclass
class GrantFinding:
    """A baseline grant that no observed event needed (whole or in part)."""

    grant: str
    wildcard: bool
    access_level: str | None
    high_risk: bool
    reason: str
    used: list[str] = field(default_factory=list)  # concrete actions under a wildcard that were used


@dataclass
class IdentityDrift:
    arn: str
    status: str
    added: list[ActionFinding] = field(default_factory=list)
    uncertain: list[ActionFinding] = field(default_factory=list)
    unused: list[GrantFinding] = field(default_factory=list)


@dataclass
class Drift:
    """The plain-data result of a comparison; ``to_dict`` is ``drift.json``."""

    identities: dict[str, IdentityDrift]
    patch: list[dict]
    baseline: str | None = None

    @property
    def drift(self) -> bool:
        return any(i.status != UNCHANGED for i in self.identities.values())

    def counts(self) -> dict[str, int]:
        entries = self.identities.values()
        added = [a for i in entries for a in i.added]
        return {
            "identities": len(self.identities),
            "new_identities": sum(i.status == NEW for i in entries),
            "missing_identities": sum(i.status == MISSING for i in entries),
            "added": len(added),
            "added_high_risk": sum(a.high_risk for a in added),
            "uncertain": sum(len(i.uncertain) for i in entries),
            "unused": sum(len(i.unused) for i in entries),
            "unused_high_risk": sum(g.high_risk for i in entries for g in i.unused),
        }

    def summary(self) -> str:
        """One plain sentence: the verdict, for stderr and the report's first line."""
        if not self.drift:
            return "no drift: the baseline grants exactly what the workload used"
        c = self.counts()
        parts = [
            (c["added"], f"{_plural(c['added'], 'action')} needed but not granted ({c['added_high_risk']} high risk)"),
            (c["uncertain"], f"{c['uncertain']} granted only under conditions or for some resources"),
            (c["unused"], f"{_plural(c['unused'], 'grant')} not used ({c['unused_high_risk']} high risk)"),
            (c["new_identities"], f"{_plural(c['new_identities'], 'identity', 'identities')} not in the baseline"),
            (c["missing_identities"], f"{_plural(c['missing_identities'], 'identity', 'identities')} without events"),
        ]
        return "drift: " + ", ".join(text for n, text in parts if n)

    def fails(self, when: str) -> bool:
        """Whether ``--fail-on-drift=WHEN`` turns this drift into exit status 3."""
        if when not in FAIL_ON_DRIFT:
            raise ValueError(f"fail-on-drift {when!r} is not one of: {', '.join(FAIL_ON_DRIFT)}")
        if when == "never":
            return False
        if when == "any":
            return self.drift
        if when == "high-risk":
            return self.counts()["added_high_risk"] > 0
        return self.counts()["added"] > 0

    def to_dict(self) -> dict:
        return {
            "drift": self.drift,
            "baseline": self.baseline,
            "counts": self.counts(),
            "identities": {
                arn: {
                    "status": entry.status,
                    "added": [a.action for a in entry.added],
                    "unused": [g.grant for g in entry.unused],
                    "uncertain": [a.action for a in entry.uncertain],
                    "high_risk": sorted(
                        {a.action for a in entry.added + entry.uncertain if a.high_risk}
                        | {g.grant for g in entry.unused if g.high_risk}
                    ),
                    "details": {
                        "added": [asdict(a) for a in entry.added],
                        "uncertain": [asdict(a) for a in entry.uncertain],
                        "unused": [asdict(g) for g in entry.unused],
                    },
                }
                for arn, entry in self.identities.items()
            },
            "patch": self.patch,
        }


def compare(
    baseline: dict[str, dict],
    generated: dict[str, dict],
    usage: dict[str, dict[str, dict]] | None = None,
    baseline_name: str | None = None,
) -> Drift:
    """The drift of ``generated`` against ``baseline`` (both: identity ARN -> policy document).

    ``Drift.patch`` turns ``canonical_documents(baseline)`` into ``canonical_documents(generated)``.

    ``usage`` adds per-action evidence from the run (``report.json``'s count, denied,
    first_seen); without it (two documents only) those fields stay empty.
    """
    usage = usage or {}
    baseline, generated = canonical_documents(baseline), canonical_documents(generated)
    identities: dict[str, IdentityDrift] = {}
    for arn in sorted(set(baseline) | set(generated)):
        used = _used_actions(arn, generated[arn]) if arn in generated else []
        evidence = {a.lower(): e for a, e in usage.get(arn, {}).items()}
        if arn not in baseline:
            added = [_finding(a, "identity not in the baseline", evidence) for a in used]
            identities[arn] = IdentityDrift(arn, NEW, added=added)
            continue
        rules = [Rule.of(s) for s in as_list(baseline[arn].get("Statement"))]
        entry = IdentityDrift(arn, MISSING if arn not in generated else UNCHANGED)
        for action in used:
            status, reason = _decide(rules, action)
            if status == "added":
                entry.added.append(_finding(action, reason, evidence))
            elif status == "uncertain":
                entry.uncertain.append(_finding(action, reason, evidence))
        entry.unused = _unused(rules, used, {a.action for a in entry.added})
        if entry.status == UNCHANGED and (entry.added or entry.uncertain or entry.unused):
            entry.status = CHANGED
        identities[arn] = entry
    return Drift(identities, jsonpatch.make_patch(baseline, generated).patch, baseline_name)


def _used_actions(arn: str, document: dict) -> list[str]:
    """The actions a generated document grants: concrete catalog actions, each checked."""
    used: set[str] = set()
    for statement in as_list(document.get("Statement")):
        if statement.get("Effect") != "Allow" or "Action" not in statement:
            raise UsageError(f"generated policy for {arn}: only Allow statements with Action can be compared")
        for action in as_list(statement["Action"]):
            known = catalog.canonical(action)
            if known is None:
                raise UsageError(f"generated policy for {arn}: {action!r} is not an action in the IAM catalog")
            used.add(known)
    return sorted(used)


def _decide(rules: list[Rule], action: str) -> tuple[str, str | None]:
    """("granted" | "added" | "uncertain", reason) for one used action under a baseline's rules."""
    denies = [r for r in rules if r.effect == "Deny" and r.covers(action)]
    allows = [r for r in rules if r.effect == "Allow" and r.covers(action)]
    if any(r.certain for r in denies):
        return "added", "explicitly denied by the baseline"
    if not allows:
        return "added", "not granted by the baseline"
    if not any(r.certain for r in allows):
        return "uncertain", "granted only " + " or ".join(sorted({r.limits for r in allows}))
    if denies:
        return "uncertain", "a Deny applies " + " or ".join(sorted({r.limits for r in denies}))
    return "granted", None


def _finding(action: str, reason: str, evidence: dict[str, dict]) -> ActionFinding:
    seen = evidence.get(action.lower(), {})
    return ActionFinding(
        action=action,
        access_level=catalog.access_level(action),
        high_risk=high_risk(action),
        reason=reason,
        count=seen.get("count"),
        denied=seen.get("denied"),
        first_seen=seen.get("first_seen"),
    )


def _unused(rules: list[Rule], used: list[str], not_granted: set[str]) -> list[GrantFinding]:
    """Every Allow grant broader than what was used: exact actions, or wildcards to narrow.

    An exact grant of a used action is never unused, even where a Deny overrides it (that action
    is listed as added, "explicitly denied"). A wildcard is narrowed to the used actions it
    actually grants, so ``not_granted`` ones are left out of its list.
    """
    granted = [a for a in used if a not in not_granted]
    findings: dict[str, GrantFinding] = {}
    for rule in rules:
        if rule.effect != "Allow":
            continue
        if rule.negated:
            grant = "NotAction " + ", ".join(rule.patterns)
            under = [a for a in granted if rule.covers(a)]
            findings.setdefault(grant, _wildcard_finding(grant, under, rule))
            continue
        for pattern in rule.patterns:  # in catalog spelling (canonical.py), so equal text is the same grant
            if pattern in findings:
                continue
            under = [a for a in (granted if is_wildcard(pattern) else used) if catalog.matches(pattern, a)]
            if is_wildcard(pattern):
                if under and _fully_used(pattern, under):
                    continue
                findings[pattern] = _wildcard_finding(pattern, under, rule)
            elif not under:
                known = catalog.exists(pattern)
                findings[pattern] = GrantFinding(
                    grant=pattern,
                    wildcard=False,
                    access_level=catalog.access_level(pattern),
                    high_risk=high_risk(pattern),
                    reason="not used" if known else "not an action in the IAM catalog",
                )
    return sorted(findings.values(), key=lambda g: g.grant.lower())


def _fully_used(pattern: str, under: list[str]) -> bool:
    """A wildcard whose every catalog action was used grants nothing extra (``*`` never is)."""
    prefix = pattern.partition(":")[0]
    if pattern == "*" or is_wildcard(prefix):
        return False
    return len(under) >= len(catalog.expand(pattern))


def _wildcard_finding(grant: str, under: list[str], rule: Rule) -> GrantFinding:
    if under:
        reason = f"wildcard: narrow to the {len(under)} action{'s' if len(under) != 1 else ''} used"
    else:
        reason = "wildcard: not needed at all"
    if not rule.certain:
        reason += f" (granted {rule.limits})"
    return GrantFinding(grant=grant, wildcard=True, access_level=None, high_risk=True, reason=reason, used=under)
