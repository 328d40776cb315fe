"""The ``trailpolicy`` command: parses arguments, runs the pipeline, maps failures to exit codes.

Option names follow Takomo's ``tkm iam generate-policies`` so that its users can switch.
Exit status: 0 done; 2 bad usage or input (one line on stderr); 1 could not finish; 3 drift found
with ``--fail-on-drift``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__, console
from .diff import FAIL_ON_DRIFT
from .errors import SourceError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DRIFT = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors become UsageError (one line, exit 2) instead of a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="trailpolicy", description="Least-privilege IAM policies from CloudTrail.")
    parser.add_argument("--version", action="version", version=f"trailpolicy {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    gen = commands.add_parser("generate", help="generate a policy per identity from CloudTrail events")
    gen.add_argument("--start-time", required=True, help="window start, ISO 8601 (e.g. 2024-05-01T12:00:00Z)")
    gen.add_argument("--end-time", required=True, help="window end, ISO 8601")
    gen.add_argument("--identity", action="append", default=[], metavar="ARN",
                     help="identity ARN (user, role, assumed-role session, root, federated user); repeatable")
    gen.add_argument("--region", action="append", default=[], help="AWS region; repeatable")
    gen.add_argument("--role-name", help="role to assume in each other account named by --identity")
    gen.add_argument("--source", default="cloudtrail",
                     help="cloudtrail (LookupEvents API, default) | PATH (log file or folder) | - (stdin) | s3://BUCKET/PREFIX | athena://DB.TABLE?workgroup=..&output=s3://..")
    gen.add_argument("--format", choices=("json", "yaml"), default="json", help="stdout format")
    gen.add_argument("--output-dir", type=Path, help="write policies/, report.json (and drift files) here")
    gen.add_argument("--no-progress", action="store_true", help="no progress output on stderr")
    gen.add_argument("--baseline", type=Path, metavar="FILE",
                     help="compare with this baseline (identity ARN -> policy, JSON or YAML by extension)")
    _fail_on_drift(gen)
    gen.add_argument("--update-baseline", action="store_true",
                     help="rewrite the --baseline file from the generated policies")
    gen.add_argument("--allow-partial", action="store_true",
                     help="cloudtrail source: go on when an (account, region) lane cannot be read, "
                          "and name it in the report and on stderr (default: fail with exit 1)")
    gen.add_argument("--wait-for-events", metavar="DURATION",
                     help="read again until no new matching events appear for the settle period, "
                          "at most DURATION (e.g. 15m); CloudTrail delivers events up to ~15 minutes late")
    gen.add_argument("--settle-period", metavar="DURATION",
                     help="with --wait-for-events: how long no new events means all arrived (default 2m)")

    diff = commands.add_parser("diff", help="drift between a baseline and generated policies (JSON on stdout)")
    diff.add_argument("baseline", type=Path, metavar="BASELINE")
    diff.add_argument("generated", type=Path, metavar="GENERATED")
    diff.add_argument("--output-dir", type=Path, help="write drift.json, patch.json and report.md here")
    _fail_on_drift(diff)

    rec = commands.add_parser("record", help="run a command, then print the generate command for its AWS calls")
    rec.add_argument("--region", action="append", default=[], help="AWS region the command uses; repeatable")
    rec.add_argument("run", nargs=argparse.REMAINDER, metavar="-- COMMAND...", help="the command to run")

    explain = commands.add_parser("explain", help="show which IAM actions a CloudTrail event maps to, and why")
    explain.add_argument("--event-source", required=True, help="e.g. s3.amazonaws.com")
    explain.add_argument("--event-name", required=True, help="e.g. ListObjects")
    explain.add_argument("--event-type", default=None, help="CloudTrail eventType (default AwsApiCall)")
    return parser


def _fail_on_drift(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fail-on-drift", nargs="?", const="added", choices=FAIL_ON_DRIFT,
                        metavar="WHEN", help="exit 3 on drift: added (default), high-risk (added, high risk"
                        " only), any (unused grants too) or never; write it as --fail-on-drift=WHEN")


def _drift_status(drift, fail_on: str | None) -> int:
    console.info(drift.summary())
    return EXIT_DRIFT if fail_on and drift.fails(fail_on) else EXIT_OK


def run_generate(args: argparse.Namespace) -> int:
    from . import baseline
    from .pipeline import (
        GenerateOptions,
        check_output_dir,
        compare,
        generate,
        update_baseline,
        warn_about,
        write_outputs,
    )
    from .query import build_query
    from .render.data import dump
    from .timeparse import parse_duration

    if (args.fail_on_drift not in (None, "never") or args.update_baseline) and not args.baseline:
        raise UsageError("--fail-on-drift and --update-baseline need --baseline FILE")
    query = build_query(args.start_time, args.end_time, args.identity, args.region, args.role_name)
    if args.output_dir:
        check_output_dir(args.output_dir)
    documents = None
    if args.baseline:  # read it first: a bad baseline should fail before a long run, not after
        first = args.update_baseline and not args.baseline.exists()
        documents = {} if first else baseline.load(args.baseline)
    options = GenerateOptions(query=query, source=args.source, output_dir=args.output_dir,
                              progress=not args.no_progress,
                              source_options={"allow_partial": args.allow_partial})
    if args.wait_for_events is not None:
        options.wait_for_events = parse_duration(args.wait_for_events, "--wait-for-events")
    if args.settle_period is not None:
        options.settle_period = parse_duration(args.settle_period, "--settle-period")
    result = generate(options)
    warn_about(result)
    drift = compare(result, args.baseline, documents) if args.baseline else None
    if args.output_dir:
        write_outputs(result, args.output_dir, drift)
    sys.stdout.write(dump(result.documents, args.format))
    if drift is None:
        return EXIT_OK
    if args.update_baseline:
        update_baseline(result, args.baseline, documents)
        console.info(f"baseline {args.baseline} updated")
    return _drift_status(drift, args.fail_on_drift)


def run_diff(args: argparse.Namespace) -> int:
    from . import baseline
    from .diff import compare
    from .pipeline import check_output_dir, write_drift
    from .render.data import to_json

    if args.output_dir:
        check_output_dir(args.output_dir)
    old = baseline.load(args.baseline, "baseline")
    new = baseline.load(args.generated, "generated")
    drift = compare(old, new, baseline_name=str(args.baseline))
    if args.output_dir:
        write_drift(drift, args.output_dir)
    sys.stdout.write(to_json(drift.to_dict()))
    return _drift_status(drift, args.fail_on_drift)


def run_explain(args: argparse.Namespace) -> int:
    from . import mapping

    sys.stdout.write(mapping.explain(args.event_source, args.event_name, args.event_type).rstrip("\n") + "\n")
    return EXIT_OK


def run_record(args: argparse.Namespace) -> int:
    from .record import run_record as record

    return record(args.region, args.run)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        handler = {"generate": run_generate, "diff": run_diff, "explain": run_explain,
                   "record": run_record}[args.command]
        return handler(args)
    except UsageError as exc:
        console.error(exc)
        return EXIT_USAGE
    except SourceError as exc:
        console.failed(exc)
        return EXIT_FAILED
    except KeyboardInterrupt:
        console.info("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
