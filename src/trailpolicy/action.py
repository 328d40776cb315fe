"""The GitHub Action: runner inputs in, the CLI's pipeline, results out to GitHub.

Like ``cli.py`` this is a thin shell: it parses ``INPUT_*`` into a ``Query`` and options, runs the
same ``pipeline`` functions in this process, and then publishes what the pipeline wrote to the
output directory — step outputs, the step summary and one sticky PR comment. Publishing to GitHub
is best effort: whatever GitHub refuses, the report is already in the summary and the artifacts.

Exit status as the CLI's: 0 done; 2 bad input (with an ``::error::`` annotation); 1 could not
finish; 3 drift found and ``fail-on-drift`` says that fails the step.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from . import baseline as baselines
from . import console
from .cli import EXIT_DRIFT, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from .diff import FAIL_ON_DRIFT, Drift
from .errors import SourceError, UsageError
from .github import comment as pr_comment
from .github import oidc
from .github.env import SUMMARY_LIMIT, ActionEnv, PullRequest
from .pipeline import GenerateOptions, check_output_dir, compare, generate, warn_about, write_outputs
from .query import Query, build_query, validate_region
from .render.markdown import provenance, render_failure, render_policies, render_report
from .timeparse import parse_duration

COMMENT = ("always", "on-drift", "never")
# The shared code names the CLI's options in its messages; the Action's users know its inputs.
INPUT_NAMES = {
    "--start-time": "start-time", "--end-time": "end-time", "--identity": "identities", "--region": "regions",
    "--role-name": "role-name", "--source": "source", "--output-dir": "output-dir", "--baseline": "baseline",
    "--wait-for-events": "wait-for-events", "--fail-on-drift": "fail-on-drift",
}
_FLAG = re.compile("|".join(rf"{re.escape(flag)}(?![\w-])" for flag in INPUT_NAMES))
# The step summary's 1 MiB, in characters of up to 4 UTF-8 bytes, so that the renderer cuts the
# report at a row (env.write_summary still guards the bytes).
SUMMARY_CHARS = SUMMARY_LIMIT // 4


@dataclass(frozen=True)
class ActionInputs:
    query: Query
    source: str
    baseline: str  # as given, relative to the repository: it names the PR comment and the report
    baseline_documents: dict[str, dict] | None
    output_dir: Path
    wait_for_events: timedelta | None
    fail_on_drift: str
    comment: str
    github_token: str
    comment_author: str
    role_to_assume: str
    aws_region: str
    audience: str


def read_inputs(env: ActionEnv) -> ActionInputs:
    """Every input checked up front, so that bad input fails before any AWS or GitHub call."""
    query = build_query(env.input("start-time"), env.input("end-time"), env.list_input("identities"),
                        env.list_input("regions"), env.input("role-name") or None)
    source = env.input("source", "cloudtrail")
    if source not in ("cloudtrail", "-") and "://" not in source:
        source = str(env.in_workspace(source))
    baseline = env.input("baseline")
    # Read and checked now: a bad baseline should fail before a long run, not after.
    documents = baselines.load(env.in_workspace(baseline), "input baseline") if baseline else None
    wait = env.input("wait-for-events")
    role = env.input("role-to-assume")
    region = env.input("aws-region")
    if region:
        validate_region(region)
    if role and not region:
        raise UsageError("input role-to-assume needs aws-region (the STS region to ask)")
    output_dir = env.in_workspace(env.input("output-dir", "trailpolicy-out"))
    check_output_dir(output_dir)
    return ActionInputs(
        query=query,
        source=source,
        baseline=baseline,
        baseline_documents=documents,
        output_dir=output_dir,
        wait_for_events=parse_duration(wait, "input wait-for-events") if wait else None,
        fail_on_drift=env.choice_input("fail-on-drift", FAIL_ON_DRIFT, "never"),
        comment=env.choice_input("comment", COMMENT, "on-drift"),
        github_token=env.input("github-token"),
        comment_author=env.input("comment-author", pr_comment.DEFAULT_AUTHOR),
        role_to_assume=role,
        aws_region=region,
        audience=env.input("audience", oidc.DEFAULT_AUDIENCE),
    )


def obtain_credentials(env: ActionEnv, inputs: ActionInputs, pr: PullRequest | None) -> bool:
    """Put the role's credentials into this process's environment; False when a fork PR has none.

    Without ``role-to-assume`` the job's own credentials are used as they are (boto3's chain).
    """
    if inputs.aws_region:
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = inputs.aws_region
    if not inputs.role_to_assume:
        return True
    if not oidc.available(env.environ):
        if pr is not None and pr.from_fork:
            return False
        raise UsageError("role-to-assume needs the job's OIDC token: give the job "
                         "'permissions: id-token: write'")
    token = oidc.fetch_id_token(env.environ, inputs.audience, env.mask)
    os.environ.update(oidc.assume_role(inputs.role_to_assume, token, inputs.aws_region,
                                       oidc.session_name(env.environ), env.mask))
    return True


def shown_path(env: ActionEnv, path: Path) -> str:
    """A path as later steps see it: relative to the workspace, which the runner mounts elsewhere."""
    try:
        return str(path.relative_to(env.workspace))
    except ValueError:
        return str(path)


def publish_comment(env: ActionEnv, inputs: ActionInputs, pr: PullRequest | None, body: str, create: bool) -> None:
    """The sticky PR comment (updated, or created when ``create``), or a notice saying why there
    is none. Never fails the step."""
    if inputs.comment == "never":
        return
    if pr is None or pr.from_fork or not inputs.github_token:
        if create:
            env.notice(f"no PR comment: {_no_comment_reason(pr)}; "
                       "the report is in the step summary and the output directory")
        return
    try:
        published = pr_comment.upsert(
            token=inputs.github_token, api_url=env.api_url, repository=env.repository, number=pr.number,
            baseline=inputs.baseline, body=body, create=create, author=inputs.comment_author,
        )
    except pr_comment.CommentError as exc:
        env.warning(f"could not comment on PR #{pr.number} ({exc}); "
                    "the report is in the step summary and the output directory")
        return
    if published is not None:
        console.info(f"PR comment {published.action}: {published.url}")


def comment_body(env: ActionEnv, inputs: ActionInputs, pr: PullRequest | None, render: Callable[[int], str]) -> str:
    """``render(max_chars)`` followed by the commit and run it is for, within GitHub's limit."""
    footer = provenance(pr.head_sha if pr is not None else None, env.run_url)
    return render(pr_comment.body_limit(inputs.baseline) - len(footer)).rstrip("\n") + "\n" + footer


def in_input_terms(message: str) -> str:
    """``message`` with the CLI's option names replaced by the Action's input names."""
    return _FLAG.sub(lambda m: f"input {INPUT_NAMES[m.group(0)]}", message)


def _no_comment_reason(pr: PullRequest | None) -> str:
    if pr is None:
        return "not a pull_request event"
    if pr.from_fork:
        return "the pull request comes from a fork, whose token is read-only"
    return "no github-token"


def run(env: ActionEnv) -> int:
    inputs = read_inputs(env)
    pr = env.pull_request()
    try:
        return run_with(env, inputs, pr)
    except (UsageError, SourceError) as exc:
        # An existing comment would still show the verdict of an earlier commit: say instead that
        # the latest run failed. No comment is created for a failure.
        failure = render_failure(in_input_terms(str(exc)))
        publish_comment(env, inputs, pr, comment_body(env, inputs, pr, lambda _: failure), create=False)
        raise


def run_with(env: ActionEnv, inputs: ActionInputs, pr: PullRequest | None) -> int:
    if not obtain_credentials(env, inputs, pr):
        message = ("pull request from a fork: GitHub gives such jobs no OIDC token, so the role "
                   f"{inputs.role_to_assume} cannot be assumed and no policy was generated")
        env.notice(message)
        env.write_summary(f"## trailpolicy\n\n{message}.\n")
        # No drift output at all: "false" would claim a comparison that did not happen.
        env.set_output("skipped", "true")
        return EXIT_OK
    options = GenerateOptions(query=inputs.query, source=inputs.source, output_dir=inputs.output_dir,
                              wait_for_events=inputs.wait_for_events)
    result = generate(options)
    warn_about(result)
    drift = None
    if inputs.baseline_documents is not None:
        drift = compare(result, Path(inputs.baseline), inputs.baseline_documents)
        console.info(drift.summary())
    write_outputs(result, inputs.output_dir, drift)
    publish(env, inputs, pr, result.report, drift)
    if drift is not None and drift.fails(inputs.fail_on_drift):
        env.error(f"least-privilege {drift.summary()} (baseline {inputs.baseline}, "
                  f"fail-on-drift: {inputs.fail_on_drift})")
        return EXIT_DRIFT
    return EXIT_OK


def publish(env: ActionEnv, inputs: ActionInputs, pr: PullRequest | None, report: dict, drift: Drift | None) -> None:
    """Step outputs, the step summary, then the PR comment: the report reaches GitHub before the
    one part that GitHub may refuse."""
    counts = drift.counts() if drift is not None else {"added": 0, "unused": 0}
    env.set_output("skipped", "false")
    # Without a baseline nothing was compared: neither "true" nor "false".
    env.set_output("drift", "" if drift is None else str(drift.drift).lower())
    env.set_output("added-count", str(counts["added"]))
    env.set_output("unused-count", str(counts["unused"]))
    env.set_output("policies-path", shown_path(env, inputs.output_dir / "policies"))
    env.set_output("report-path", shown_path(env, inputs.output_dir / "report.json"))
    env.set_output("patch-path", shown_path(env, inputs.output_dir / "patch.json") if drift is not None else "")
    if drift is None:
        env.write_summary(render_policies(report, max_chars=SUMMARY_CHARS))
        body = comment_body(env, inputs, pr, lambda limit: render_policies(report, max_chars=limit))
        # on-drift: a new comment only for drift, but an existing one is always brought up to
        # date, so that it says so when the drift is gone.
        publish_comment(env, inputs, pr, body, create=inputs.comment == "always")
        return
    env.write_summary(render_report(drift, report, max_chars=SUMMARY_CHARS))
    body = comment_body(env, inputs, pr, lambda limit: render_report(drift, report, max_chars=limit))
    publish_comment(env, inputs, pr, body, create=inputs.comment == "always" or drift.drift)


def main(environ: dict[str, str] | None = None) -> int:
    env = ActionEnv(environ)
    try:
        return run(env)
    except UsageError as exc:
        message = in_input_terms(str(exc))
        env.error(message)
        console.error(message)
        return EXIT_USAGE
    except SourceError as exc:
        message = in_input_terms(str(exc))
        env.error(f"could not finish: {message}")
        console.failed(message)
        return EXIT_FAILED
