"""What a run wrote to its output directory, read back for publishing (step outputs, summary, comment).

ADAPTER — reads the output-directory contract of DESIGN.md (``drift.json``, ``patch.json``,
``report.md``) instead of the drift machinery's objects, so that the Action depends only on the
files that are the contract anyway. The drift itself and the markdown are made by ``diff.py`` and
``render/markdown.py``; nothing here compares policies or renders drift.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import SourceError


@dataclass(frozen=True)
class DriftFiles:
    drift: bool
    added_count: int
    unused_count: int
    high_risk_added: int
    patch_path: Path | None
    markdown: str

    def fails(self, when: str) -> bool:
        """Whether ``fail-on-drift: WHEN`` fails the step (the CLI's ``--fail-on-drift=WHEN``)."""
        if when == "never":
            return False
        if when == "any":
            return self.drift
        if when == "high-risk":
            return self.high_risk_added > 0
        return self.added_count > 0


def read(output_dir: Path, baseline: str, report: dict) -> DriftFiles:
    """The drift files of a run with a baseline; a run without one has no drift by definition."""
    drift_json = output_dir / "drift.json"
    if not baseline:
        return DriftFiles(False, 0, 0, 0, None, generated_summary(report))
    try:
        data = json.loads(drift_json.read_text(encoding="utf-8"))
        markdown = (output_dir / "report.md").read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise SourceError(f"the run wrote no readable drift report in {output_dir}: {exc}") from None
    counts = data.get("counts", {})
    patch = output_dir / "patch.json"
    return DriftFiles(
        drift=bool(data.get("drift")),
        added_count=int(counts.get("added", 0)),
        unused_count=int(counts.get("unused", 0)),
        high_risk_added=int(counts.get("added_high_risk", 0)),
        patch_path=patch if patch.is_file() else None,
        markdown=markdown,
    )


def generated_summary(report: dict) -> str:
    """A few lines for a run without a baseline: which policies were written, from how many events."""
    events = report["run"]["events"]
    lines = ["## trailpolicy", "",
             f"{events['in_scope']} of {events['read']} events in scope; "
             f"{len(report['identities'])} policies generated (no baseline to compare with).", ""]
    if report["identities"]:
        lines += ["| identity | actions | policy file |", "| --- | ---: | --- |"]
        for arn, entry in report["identities"].items():
            lines.append(f"| `{arn}` | {len(entry['actions'])} | `{entry['policy_file']}` |")
    for arn in report["run"]["identities_without_events"]:
        lines.append(f"\n> [!WARNING]\n> No events for `{arn}` in the window.")
    for arn, entry in report["identities"].items():
        if not entry["actions"]:
            lines.append(f"\n> [!WARNING]\n> `{arn}`: none of its calls needed a permission that could be "
                         "mapped, so its policy grants nothing (report.json lists the calls and why).")
    return "\n".join(lines) + "\n"
