"""``report.json``: everything a reviewer needs to trust (or question) a generated policy.

Per identity: the policy file, each action with its access level, event counts and the calls that
needed it, calls skipped or unmapped with the reason, denied calls, roles passed. Per run: the
window, what each source read and could see, every event left out and why, the catalog version.
"""

from __future__ import annotations

from datetime import UTC, datetime

from . import __version__, catalog
from .identity import slug
from .policy import PolicySet
from .query import Query
from .tally import Tally
from .timeparse import iso


def _time(value: datetime | None) -> str | None:
    return iso(value) if value else None


def policy_files(arns: list[str]) -> dict[str, str]:
    """``policies/<slug>.json`` per identity, unique even when two slugs would collide."""
    files: dict[str, str] = {}
    used: set[str] = set()
    for arn in sorted(arns):
        base = slug(arn)
        name, n = base, 2
        while name.lower() in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name.lower())
        files[arn] = f"policies/{name}.json"
    return files


def build_report(policies: PolicySet, tally: Tally, query: Query) -> dict:
    files = policy_files(list(policies.identities))
    identities: dict[str, dict] = {}
    for arn in sorted(policies.identities):
        policy = policies.identities[arn]
        actions = [
            {
                "action": action,
                "access_level": catalog.access_level(action),
                "count": use.count,
                "denied": use.denied,
                "first_seen": _time(use.first_seen),
                "last_seen": _time(use.last_seen),
                "calls": sorted(use.calls),
            }
            for action, use in sorted(policy.actions.items())
        ]
        identities[arn] = {
            "arn": arn,
            "policy_file": files[arn],
            "events": policy.events,
            "actions": actions,
            "denied": [{"action": a["action"], "count": a["denied"]} for a in actions if a["denied"]],
            "skipped": sorted(policy.skipped.values(), key=lambda e: e["call"]),
            "unmapped": sorted(policy.unmapped.values(), key=lambda e: e["call"]),
            "passed_roles": [
                {"role": r["role"], "count": r["count"], "calls": dict(sorted(r["calls"].items()))}
                for _, r in sorted(policy.passed_roles.items())
            ],
        }
    requested = [spec.arn for spec in query.identities]
    data_events_seen = sum(o.count for o in tally.observations.values() if o.data_event)
    return {
        "run": {
            "tool": "trailpolicy",
            "version": __version__,
            "generated_at": iso(datetime.now(UTC).replace(microsecond=0)),
            "window": {"start": iso(query.start), "end": iso(query.end)},
            "identities_requested": requested,
            "identities_without_events": [arn for arn in requested if arn not in policies.identities],
            "regions_requested": list(query.regions),
            "regions_seen": sorted(tally.regions),
            "accounts_seen": sorted(tally.accounts),
            "catalog_version": catalog.version(),
            "sources": tally.sources,
            "data_events": {
                "visible": any(s.get("data_events") for s in tally.sources),
                "seen": data_events_seen,
            },
            "events": {
                "read": tally.events_read,
                "in_scope": tally.events_matched,
                "out_of_scope": dict(sorted(tally.out_of_scope.items())),
                "without_identity_by_type": dict(sorted(tally.unidentified.items())),
            },
            "bad_inputs": tally.bad_inputs,
            "gaps": tally.gaps,
        },
        "identities": identities,
    }
