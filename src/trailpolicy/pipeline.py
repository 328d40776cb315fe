"""The one pipeline behind the CLI, the library and the Action: source -> tally -> policies -> report."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from .delivery import DEFAULT_SETTLE, collect_settled
from .policy import PolicySet, build_policies
from .query import Query
from .render.data import to_json
from .report import build_report, policy_files
from .sources import open_source
from .tally import Tally


@dataclass
class GenerateOptions:
    query: Query
    source: str = "cloudtrail"
    output_dir: Path | None = None
    progress: bool = True
    source_options: dict = field(default_factory=dict)
    wait_for_events: timedelta | None = None  # poll until events settle, at most this long
    settle_period: timedelta = DEFAULT_SETTLE


@dataclass
class GenerateResult:
    policies: PolicySet
    tally: Tally
    report: dict

    @property
    def documents(self) -> dict[str, dict]:
        return self.policies.documents()


def generate(options: GenerateOptions) -> GenerateResult:
    source = open_source(options.source, progress=options.progress, options=options.source_options)
    if options.wait_for_events:
        tally = collect_settled(source, options.query, options.wait_for_events, options.settle_period)
    else:
        tally = source.collect(options.query)
    policies = build_policies(tally)
    return GenerateResult(policies, tally, build_report(policies, tally, options.query))


def warn_about(result: GenerateResult, stream=sys.stderr) -> None:
    """Say on stderr what did not become policy, so nothing is dropped silently."""
    for arn in result.report["run"]["identities_without_events"]:
        print(f"trailpolicy: warning: no events for {arn} in the window", file=stream)
    for arn, entry in result.report["identities"].items():
        for unmapped in entry["unmapped"]:
            print(
                f"trailpolicy: unmapped: {unmapped['call']} ({unmapped['count']} events by {arn}): {unmapped['reason']}",
                file=stream,
            )
    for gap in result.tally.gaps:
        print(f"trailpolicy: warning: not read: {gap.get('what')}: {gap.get('reason')}", file=stream)


def write_outputs(result: GenerateResult, output_dir: Path) -> None:
    """``policies/<slug>.json`` per identity and ``report.json`` (DESIGN.md, output contract)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "policies").mkdir(exist_ok=True)
    documents = result.documents
    for arn, relative in policy_files(list(documents)).items():
        (output_dir / relative).write_text(to_json(documents[arn]), encoding="utf-8")
    (output_dir / "report.json").write_text(to_json(result.report), encoding="utf-8")
