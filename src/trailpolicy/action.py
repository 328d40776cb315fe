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
import sys
from dataclasses import dataclass
from pathlib import Path

from . import drift_files
from .cli import EXIT_DRIFT, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from .errors import SourceError, UsageError
from .github import comment as pr_comment
from .github import oidc
from .github.env import ActionEnv, PullRequest
from .pipeline import GenerateOptions, generate, warn_about, write_outputs
from .query import Query, build_query, validate_region

FAIL_ON_DRIFT = ("never", "added", "high-risk", "any")
COMMENT = ("always", "on-drift", "never")


@dataclass(frozen=True)
class ActionInputs:
    query: Query
    source: str
    baseline: str  # as given, relative to the repository: it names the PR comment
    baseline_path: Path | None
    output_dir: Path
    fail_on_drift: str
    comment: str
    github_token: str
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
    baseline_path = env.in_workspace(baseline) if baseline else None
    if baseline_path is not None and not baseline_path.is_file():
        raise UsageError(f"input baseline {baseline!r} is not a file in the repository")
    role = env.input("role-to-assume")
    region = env.input("aws-region")
    if region:
        validate_region(region)
    if role and not region:
        raise UsageError("input role-to-assume needs aws-region (the STS region to ask)")
    return ActionInputs(
        query=query,
        source=source,
        baseline=baseline,
        baseline_path=baseline_path,
        output_dir=env.in_workspace(env.input("output-dir", "trailpolicy-out")),
        fail_on_drift=env.choice_input("fail-on-drift", FAIL_ON_DRIFT, "never"),
        comment=env.choice_input("comment", COMMENT, "on-drift"),
        github_token=env.input("github-token"),
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


def publish_comment(env: ActionEnv, inputs: ActionInputs, pr: PullRequest | None, found: drift_files.DriftFiles) -> None:
    """The sticky PR comment, or a notice saying why there is none. Never fails the step."""
    if inputs.comment == "never":
        return
    # on-drift: a new comment only for drift, but an existing one is always brought up to date,
    # so that it says so when the drift is gone.
    create = inputs.comment == "always" or found.drift
    if pr is None or pr.from_fork or not inputs.github_token:
        if create:
            env.notice(f"no PR comment: {_no_comment_reason(pr)}; "
                       "the report is in the step summary and the output directory")
        return
    try:
        published = pr_comment.upsert(
            token=inputs.github_token, api_url=env.api_url, repository=env.repository, number=pr.number,
            baseline=inputs.baseline, body=found.markdown, create=create,
        )
    except pr_comment.CommentError as exc:
        env.warning(f"could not comment on PR #{pr.number} ({exc}); "
                    "the report is in the step summary and the output directory")
        return
    if published is not None:
        print(f"trailpolicy: PR comment {published.action}: {published.url}", file=sys.stderr)


def _no_comment_reason(pr: PullRequest | None) -> str:
    if pr is None:
        return "not a pull_request event"
    if pr.from_fork:
        return "the pull request comes from a fork, whose token is read-only"
    return "no github-token"


def run(env: ActionEnv) -> int:
    inputs = read_inputs(env)
    pr = env.pull_request()
    if not obtain_credentials(env, inputs, pr):
        message = ("pull request from a fork: GitHub gives such jobs no OIDC token, so the role "
                   f"{inputs.role_to_assume} cannot be assumed and no policy was generated")
        env.notice(message)
        env.write_summary(f"## trailpolicy\n\n{message}.\n")
        # No drift output at all: "false" would claim a comparison that did not happen.
        env.set_output("skipped", "true")
        return EXIT_OK
    options = GenerateOptions(query=inputs.query, source=inputs.source, output_dir=inputs.output_dir)
    result = generate(options)
    warn_about(result)
    write_outputs(result, inputs.output_dir)
    found = drift_files.read(inputs.output_dir, inputs.baseline, result.report)

    env.set_output("skipped", "false")
    env.set_output("drift", "true" if found.drift else "false")
    env.set_output("added-count", str(found.added_count))
    env.set_output("unused-count", str(found.unused_count))
    env.set_output("policies-path", shown_path(env, inputs.output_dir / "policies"))
    env.set_output("report-path", shown_path(env, inputs.output_dir / "report.json"))
    env.set_output("patch-path", shown_path(env, found.patch_path) if found.patch_path else "")
    env.write_summary(found.markdown)
    publish_comment(env, inputs, pr, found)

    if found.fails(inputs.fail_on_drift):
        env.error(f"least-privilege drift against {inputs.baseline}: {found.added_count} actions added, "
                  f"{found.unused_count} unused (fail-on-drift: {inputs.fail_on_drift})")
        return EXIT_DRIFT
    return EXIT_OK


def main(environ: dict[str, str] | None = None) -> int:
    env = ActionEnv(environ)
    try:
        return run(env)
    except UsageError as exc:
        env.error(str(exc))
        print(f"trailpolicy: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SourceError as exc:
        env.error(f"could not finish: {exc}")
        print(f"trailpolicy: failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
