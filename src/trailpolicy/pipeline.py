"""The one pipeline behind the CLI, the library and the Action: source -> tally -> policies -> report."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from . import baseline as baselines
from . import console, globalservices
from .delivery import DEFAULT_SETTLE, collect_settled
from .diff import Drift
from .diff import compare as compare_documents
from .errors import UsageError
from .policy import PolicySet, build_policies
from .query import Query
from .render.data import to_json
from .render.markdown import render_report
from .report import build_report, policy_files
from .sources import open_source
from .tally import GLOBAL_OTHER_REGION, Tally


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
    warn_before(options.query)
    if options.wait_for_events:
        tally = collect_settled(source, options.query, options.wait_for_events, options.settle_period)
    else:
        tally = source.collect(options.query)
    policies = build_policies(tally)
    return GenerateResult(policies, tally, build_report(policies, tally, options.query))


def warn_about(result: GenerateResult, stream=None) -> None:
    """Say on stderr what did not become policy, so nothing is dropped silently.

    Call names, reasons and ARNs come from events: ``console`` keeps each on its own line.
    """
    for arn in result.report["run"]["identities_without_events"]:
        console.warn(f"no events for {arn} in the window", stream=stream)
    for arn, entry in result.report["identities"].items():
        for unmapped in entry["unmapped"]:
            console.say(f"{unmapped['call']} ({unmapped['count']} events by {arn}): {unmapped['reason']}",
                        kind="unmapped", stream=stream)
    for gap in result.tally.gaps:
        console.warn(f"not read: {gap.get('what')}: {gap.get('reason')}", stream=stream)
    tally = result.tally
    if tally.events_read and not tally.events_matched:
        reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(tally.out_of_scope.items()))
        console.warn(f"none of the {tally.events_read} events read is in scope ({reasons}); "
                     "check the window, --region and --identity", stream=stream)
    elif not tally.events_read:
        console.warn("the source had no events for this window", stream=stream)
    left_out = result.tally.out_of_scope.get(GLOBAL_OTHER_REGION, 0)
    if left_out:
        console.warn(f"left out {left_out} events of global services (IAM, STS, CloudFront, ...) recorded in "
                     "another region than --region asks for; add --region us-east-1 to include them "
                     "(cn-north-1 or us-gov-west-1 in the China and GovCloud partitions)", stream=stream)
    for empty in (arn for arn, policy in result.policies.identities.items() if not policy.actions):
        console.warn(f"{empty} made only calls that need no permission or map to none; "
                     "its policy has no statements", stream=stream)


def warn_before(query: Query, stream=None) -> None:
    """Warn, before a possibly long read, about a window that cannot see global services."""
    partitions = {spec.partition for spec in query.identities}
    for region in globalservices.missing_region(query.regions, partitions):
        console.warn(f"--region does not include {region}, where CloudTrail records IAM, STS "
                     "and other global-service calls; their permissions will be missing", stream=stream)


def check_output_dir(output_dir: Path) -> None:
    """Refuse, before a long run, an output directory that cannot be one: an existing file, or a
    path below a file."""
    for path in (output_dir, *output_dir.parents):
        if path.exists():
            if not path.is_dir():
                what = "is a file" if path == output_dir else f"{path} is a file"
                raise UsageError(f"--output-dir {output_dir}: {what}, not a directory")
            return


@contextmanager
def _writing(output_dir: Path) -> Iterator[None]:
    """A file system refusal while writing the outputs, as one line naming the directory."""
    try:
        yield
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(output_dir) else ""
        raise UsageError(f"--output-dir {output_dir}: cannot write{where}: {exc.strerror or exc}") from None


def write_outputs(result: GenerateResult, output_dir: Path, drift: Drift | None = None) -> None:
    """``policies/<slug>.json`` per identity and ``report.json`` (DESIGN.md, output contract);
    with a drift, also ``drift.json``, ``patch.json`` and ``report.md``."""
    with _writing(output_dir):
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "policies").mkdir(exist_ok=True)
        documents = result.documents
        for arn, relative in policy_files(list(documents)).items():
            (output_dir / relative).write_text(to_json(documents[arn]), encoding="utf-8")
        (output_dir / "report.json").write_text(to_json(result.report), encoding="utf-8")
    if drift is not None:
        write_drift(drift, output_dir, result.report)


def write_drift(drift: Drift, output_dir: Path, report: dict | None = None) -> None:
    """``drift.json``, ``patch.json`` (RFC 6902, canonical baseline -> generated) and ``report.md``."""
    with _writing(output_dir):
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "drift.json").write_text(to_json(drift.to_dict()), encoding="utf-8")
        (output_dir / "patch.json").write_text(to_json(drift.patch), encoding="utf-8")
        (output_dir / "report.md").write_text(render_report(drift, report), encoding="utf-8")


def _in_scope(result: GenerateResult, documents: dict[str, dict]) -> dict[str, dict]:
    """The baseline identities this run looked for: all of them, or those named by ``--identity``."""
    requested = result.report["run"]["identities_requested"]
    return {arn: doc for arn, doc in documents.items() if not requested or arn in requested}


def compare(result: GenerateResult, baseline_path: Path, documents: dict[str, dict] | None = None) -> Drift:
    """The drift of a run against a baseline file, with the run's evidence (counts, first seen).

    ``documents`` is the baseline already loaded from ``baseline_path``, if the caller has it.
    Baseline identities that the run did not ask for (``--identity``) are left out of the comparison.
    """
    documents = baselines.load(baseline_path) if documents is None else documents
    usage = {
        arn: {action["action"]: action for action in entry["actions"]}
        for arn, entry in result.report["identities"].items()
    }
    return compare_documents(_in_scope(result, documents), result.documents, usage, str(baseline_path))


def update_baseline(result: GenerateResult, baseline_path: Path, documents: dict[str, dict]) -> None:
    """Rewrite the baseline from this run; identities the run did not ask for are kept as they were."""
    scoped = _in_scope(result, documents)
    kept = {arn: doc for arn, doc in documents.items() if arn not in scoped}
    baselines.write(baseline_path, dict(sorted({**kept, **result.documents}.items())))
