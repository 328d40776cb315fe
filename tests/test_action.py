"""The GitHub Action end to end: ``entrypoint.py`` in a subprocess with the runner's environment,
GitHub's REST API and the OIDC token endpoint as loopback fakes, STS from moto."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.action_env import ALICE, BOB, HEAD_SHA, PR, REPO, RUN_URL, pull_request_event, run_action, workspace
from tests.fakes.github import FakeGitHub
from tests.fakes.oidc import FakeOIDCProvider
from trailpolicy.github.comment import marker

TOKEN = "ghs_testtoken"
ROLE = "arn:aws:iam::111122223333:role/trailpolicy-reader"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as fake:
        fake.add_pull(REPO, PR)
        yield fake


def test_outputs_summary_and_artifacts(tmp_path, github):
    run = run_action(workspace(tmp_path), {"identities": f"{ALICE}\n{BOB}", "comment": "never"},
                     env={"GITHUB_API_URL": github.url})
    assert run.returncode == 0, run.stderr
    out = run.workspace / "trailpolicy-out"
    policy = json.loads((out / "policies" / "111122223333-user-alice.json").read_text())
    assert [s["Action"] for s in policy["Statement"]] == [["ec2:DescribeInstances"], ["s3:ListAllMyBuckets"]]
    assert (out / "report.json").is_file()
    assert run.outputs["drift"] == ""  # nothing was compared: neither true nor false
    assert run.outputs["added-count"] == "0" and run.outputs["unused-count"] == "0"
    # Paths as later steps on the runner see them: relative to the workspace, not the container's.
    assert run.outputs["policies-path"] == "trailpolicy-out/policies"
    assert run.outputs["report-path"] == "trailpolicy-out/report.json"
    assert "`arn:aws:iam::111122223333:user/alice`" in run.summary
    # bob only called sts:GetCallerIdentity, which needs no permission: an empty policy, said so.
    assert f"`{BOB}`: none of its calls needed a permission" in run.summary
    assert github.writes() == []


def test_two_runs_leave_one_comment_updated_in_place(tmp_path, github):
    ws = workspace(tmp_path)
    env = {"GITHUB_API_URL": github.url}
    first = run_action(ws, {"identities": ALICE, "comment": "always"}, env=env)
    assert first.returncode == 0, first.stderr
    [comment] = github.comments(REPO, PR)
    assert comment.body.startswith("<!-- trailpolicy:comment baseline=(none) -->")
    assert "user/alice" in comment.body

    second = run_action(ws, {"identities": BOB, "comment": "always"}, env=env)
    assert second.returncode == 0, second.stderr
    [updated] = github.comments(REPO, PR)
    assert updated.id == comment.id
    assert "user/alice" not in updated.body
    assert [w.method for w in github.writes()] == ["POST", "PATCH"]


def test_comment_is_found_among_many_and_others_are_left_alone(tmp_path, github):
    for n in range(40):  # two pages of other comments before ours
        github.add_comment(REPO, PR, f"review note {n}", user="octocat")
    github.add_comment(REPO, PR, "<!-- trailpolicy:comment baseline=(none) -->\nold report")
    human = github.add_comment(REPO, PR, "quoting: <!-- trailpolicy:comment baseline=(none) -->", user="octocat")
    run = run_action(workspace(tmp_path), {"comment": "always"}, env={"GITHUB_API_URL": github.url})
    assert run.returncode == 0, run.stderr
    assert [w.method for w in github.writes()] == ["PATCH"]
    ours = [c for c in github.comments(REPO, PR) if c.body.startswith("<!-- trailpolicy")]
    assert len(ours) == 1 and "old report" not in ours[0].body
    assert next(c for c in github.comments(REPO, PR) if c.id == human.id).body.startswith("quoting")


def test_a_planted_marker_comment_by_someone_else_is_not_adopted(tmp_path, github):
    planted = github.add_comment(REPO, PR, f"{marker('')}\n**No drift.** Merge away.", user="mallory")
    run = run_action(workspace(tmp_path), {"comment": "always"}, env={"GITHUB_API_URL": github.url})
    assert run.returncode == 0, run.stderr
    assert run.commands("warning") == []
    assert [(w.method, w.status) for w in github.writes()] == [("POST", 201)]
    theirs, ours = github.comments(REPO, PR)
    assert (theirs.id, theirs.body) == (planted.id, planted.body)
    assert ours.user_login == "github-actions[bot]" and "user/alice" in ours.body


def test_comment_author_names_the_tokens_bot(tmp_path):
    with FakeGitHub(token=TOKEN, bot_login="policy-bot[bot]") as github:
        github.add_pull(REPO, PR)
        github.add_comment(REPO, PR, f"{marker('')}\nplanted", user="github-actions[bot]")
        earlier = github.add_comment(REPO, PR, f"{marker('')}\nold report")
        run = run_action(workspace(tmp_path), {"comment": "always", "comment-author": "policy-bot[bot]"},
                         env={"GITHUB_API_URL": github.url})
        assert run.returncode == 0, run.stderr
        assert [w.method for w in github.writes()] == ["PATCH"]
        planted, ours = github.comments(REPO, PR)
        assert planted.body.endswith("planted")
        assert ours.id == earlier.id and "user/alice" in ours.body


def test_on_drift_without_drift_creates_no_comment(tmp_path, github):
    run = run_action(workspace(tmp_path), {"comment": "on-drift"}, env={"GITHUB_API_URL": github.url})
    assert run.returncode == 0, run.stderr
    assert github.comments(REPO, PR) == []
    assert run.commands("notice") == []


def test_read_only_token_403_keeps_the_report(tmp_path):
    with FakeGitHub(token=TOKEN, read_only=True) as github:
        github.add_pull(REPO, PR)
        run = run_action(workspace(tmp_path), {"comment": "always"}, env={"GITHUB_API_URL": github.url})
        assert github.comments(REPO, PR) == []
    assert run.returncode == 0, run.stderr
    [warning] = run.commands("warning")
    assert "403" in warning and "step summary" in warning
    assert "user/alice" in run.summary
    assert (run.workspace / "trailpolicy-out" / "report.json").is_file()
    assert TOKEN not in run.stdout + run.stderr


def test_github_5xx_is_not_retried_into_a_second_comment(tmp_path):
    with FakeGitHub(token=TOKEN, fail_writes=-1, write_failure_status=502) as github:
        github.add_pull(REPO, PR)
        run = run_action(workspace(tmp_path), {"comment": "always"}, env={"GITHUB_API_URL": github.url})
        writes = github.writes()
    assert run.returncode == 0, run.stderr
    assert [w.method for w in writes] == ["POST"]
    assert "502" in run.commands("warning")[0]
    assert "user/alice" in run.summary


def test_fork_pull_request_comments_nowhere_and_says_why(tmp_path, github):
    run = run_action(workspace(tmp_path), {"comment": "always"}, event=pull_request_event(head_repo="fork/r"),
                     env={"GITHUB_API_URL": github.url})
    assert run.returncode == 0, run.stderr
    assert github.requests == []
    assert any("fork" in n for n in run.commands("notice"))
    assert run.outputs["drift"] == "" and "user/alice" in run.summary


def test_missing_token_is_a_notice(tmp_path, github):
    run = run_action(workspace(tmp_path), {"comment": "always"}, token="", env={"GITHUB_API_URL": github.url})
    assert run.returncode == 0, run.stderr
    assert any("github-token" in n for n in run.commands("notice"))
    assert github.requests == []


def test_fork_pull_request_without_oidc_is_skipped_not_failed(tmp_path):
    run = run_action(workspace(tmp_path), {"role-to-assume": ROLE, "aws-region": "us-east-1"},
                     event=pull_request_event(head_repo="fork/r"))
    assert run.returncode == 0, run.stderr
    assert run.outputs == {"skipped": "true"}
    assert "no OIDC token" in run.summary
    assert not (run.workspace / "trailpolicy-out").exists()


def test_role_without_id_token_permission_is_bad_input(tmp_path):
    run = run_action(workspace(tmp_path), {"role-to-assume": ROLE, "aws-region": "us-east-1"})
    assert run.returncode == 2
    assert "id-token: write" in run.commands("error")[0]
    assert "Traceback" not in run.stderr


def test_oidc_token_is_exchanged_for_masked_role_credentials(tmp_path, moto_server):
    with FakeOIDCProvider(repository=REPO) as oidc:
        env = {**oidc.env(), "AWS_ENDPOINT_URL": moto_server.url}
        run = run_action(workspace(tmp_path), {"role-to-assume": ROLE, "aws-region": "eu-west-1",
                                               "comment": "never"}, env=env)
        assert oidc.audiences == ["sts.amazonaws.com"]
        [token] = oidc.issued
    assert run.returncode == 0, run.stderr
    masked = run.commands("add-mask")
    assert masked[0] == token and len(masked) == 4  # the JWT, then key id, secret and session token
    for secret in masked:
        assert run.stdout.count(secret) == 1 and secret not in run.stderr
        assert secret not in run.summary and secret not in json.dumps(run.outputs)
    assert run.outputs["drift"] == ""


def test_refused_oidc_request_fails_without_showing_the_token(tmp_path):
    with FakeOIDCProvider(repository=REPO) as oidc:
        env = {**oidc.env(), "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "wrong-request-token"}
        run = run_action(workspace(tmp_path), {"role-to-assume": ROLE, "aws-region": "us-east-1"}, env=env)
    assert run.returncode == 1
    assert "OIDC token (HTTP 401)" in run.commands("error")[0]
    assert "wrong-request-token" not in run.stdout + run.stderr


@pytest.mark.parametrize(("inputs", "says"), [
    ({"start-time": "yesterday"}, "input start-time 'yesterday' is not an ISO 8601 time"),
    ({"end-time": "2024-05-01T10:00:00Z"}, "input end-time"),
    ({"identities": "arn:aws:iam::1:user/x"}, "input identities"),
    ({"wait-for-events": "soon"}, "input wait-for-events"),
    ({"source": "s3://"}, "input source"),
    ({"fail-on-drift": "sometimes"}, "input fail-on-drift 'sometimes' is not one of"),
    ({"comment": "loud"}, "input comment 'loud' is not one of"),
    ({"regions": "us-east-1, mars-1"}, "input regions 'mars-1'"),
    ({"baseline": "no/such/baseline.json"}, "no/such/baseline.json: no such file"),
    ({"role-to-assume": ROLE}, "role-to-assume needs aws-region"),
])
def test_bad_input_is_one_error_annotation_and_exit_2(tmp_path, inputs, says):
    run = run_action(workspace(tmp_path), inputs)
    assert run.returncode == 2
    [error] = run.commands("error")
    assert says in error and " --" not in error  # the Action's input names, not the CLI's flags
    assert "Traceback" not in run.stderr
    assert run.outputs == {}


def write_baseline(ws, name: str, actions: list[str]) -> str:
    statements = [{"Effect": "Allow", "Action": actions, "Resource": "*"}]
    (ws / "policy").mkdir(exist_ok=True)
    (ws / "policy" / name).write_text(json.dumps({ALICE: {"Version": "2012-10-17", "Statement": statements}}))
    return f"policy/{name}"


def test_drift_comment_then_drift_gone_updates_the_same_comment(tmp_path, github):
    ws = workspace(tmp_path)
    env = {"GITHUB_API_URL": github.url}
    baseline = write_baseline(ws, "alice.json", ["ec2:DescribeInstances"])
    inputs = {"identities": ALICE, "baseline": baseline, "fail-on-drift": "added"}

    drifted = run_action(ws, inputs, env=env)
    assert drifted.returncode == 3, drifted.stderr
    assert drifted.outputs["drift"] == "true"
    assert (drifted.outputs["added-count"], drifted.outputs["unused-count"]) == ("1", "0")
    assert drifted.outputs["patch-path"] == "trailpolicy-out/patch.json"
    out = ws / "trailpolicy-out"
    assert json.loads((out / "drift.json").read_text())["identities"][ALICE]["added"] == ["s3:ListAllMyBuckets"]
    assert {p.name for p in out.iterdir()} >= {"policies", "report.json", "drift.json", "patch.json", "report.md"}
    assert "s3:ListAllMyBuckets" in drifted.summary
    assert "fail-on-drift: added" in drifted.commands("error")[0]
    [comment] = github.comments(REPO, PR)
    assert comment.body.startswith(marker("policy/alice.json") + "\n")
    assert "s3:ListAllMyBuckets" in comment.body

    write_baseline(ws, "alice.json", ["ec2:DescribeInstances", "s3:ListAllMyBuckets"])
    clean = run_action(ws, inputs, env=env)
    assert clean.returncode == 0, clean.stderr
    assert clean.outputs["drift"] == "false"
    [updated] = github.comments(REPO, PR)
    assert updated.id == comment.id
    assert "no drift" in updated.body.lower() and "s3:ListAllMyBuckets" not in updated.body
    assert [w.method for w in github.writes()] == ["POST", "PATCH"]


def test_one_comment_per_baseline(tmp_path, github):
    ws = workspace(tmp_path)
    env = {"GITHUB_API_URL": github.url}
    for name in ("a.json", "b.json"):
        run = run_action(ws, {"identities": ALICE, "baseline": write_baseline(ws, name, ["ec2:DescribeInstances"])},
                         env=env)
        assert run.returncode == 0, run.stderr
    bodies = sorted(c.body.splitlines()[0] for c in github.comments(REPO, PR))
    assert bodies == sorted([marker("policy/a.json"), marker("policy/b.json")])
    # The same baseline spelled another way is the same comment.
    again = run_action(ws, {"identities": ALICE, "baseline": "./policy//a.json"}, env=env)
    assert again.returncode == 0, again.stderr
    assert len(github.comments(REPO, PR)) == 2


def test_fail_on_drift_levels(tmp_path):
    ws = workspace(tmp_path)
    baseline = write_baseline(ws, "alice.json", ["ec2:DescribeInstances", "s3:ListAllMyBuckets", "s3:GetObject"])
    common = {"identities": ALICE, "baseline": baseline, "comment": "never"}
    # Only an unused grant: drift, but nothing added.
    assert run_action(ws, {**common, "fail-on-drift": "added"}).returncode == 0
    assert run_action(ws, {**common, "fail-on-drift": "high-risk"}).returncode == 0
    unused = run_action(ws, {**common, "fail-on-drift": "any"})
    assert unused.returncode == 3
    assert unused.outputs["drift"] == "true" and unused.outputs["unused-count"] == "1"


def test_bad_baseline_fails_before_reading_events(tmp_path):
    ws = workspace(tmp_path)
    (ws / "bad.json").write_text('{"arn:aws:iam::111122223333:user/alice": {"Statement": [{"Effect": "Maybe"}]}}')
    run = run_action(ws, {"baseline": "bad.json"})
    assert run.returncode == 2
    assert "bad.json" in run.commands("error")[0]
    assert not (ws / "trailpolicy-out").exists()


def test_output_dir_that_is_a_file_is_bad_input(tmp_path):
    ws = workspace(tmp_path)
    (ws / "taken").write_text("a file")
    for output_dir in ("taken", "taken/out"):
        run = run_action(ws, {"output-dir": output_dir, "comment": "never"})
        assert run.returncode == 2, run.stderr
        [error] = run.commands("error")
        assert "output-dir" in error and "not a directory" in error
        assert len(run.stderr.splitlines()) == 1 and "Traceback" not in run.stderr


@pytest.mark.parametrize("variable", ["GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"])
def test_unwritable_runner_file_is_one_error(tmp_path, variable):
    ws = workspace(tmp_path)
    (tmp_path / "a-directory").mkdir()
    run = run_action(ws, {"comment": "never"}, env={variable: str(tmp_path / "a-directory")})
    assert run.returncode == 1, run.stderr
    [error] = run.commands("error")
    assert variable in error and "a-directory" in error
    assert "Traceback" not in run.stderr and len(run.stderr.splitlines()) <= 2


def test_github_api_url_that_is_not_a_url_is_a_warning(tmp_path):
    run = run_action(workspace(tmp_path), {"comment": "always"}, env={"GITHUB_API_URL": "not a url"})
    assert run.returncode == 0, run.stderr
    [warning] = run.commands("warning")
    assert "GITHUB_API_URL" in warning and "step summary" in warning
    assert "user/alice" in run.summary and "Traceback" not in run.stderr


def test_comment_names_the_commit_and_links_the_run(tmp_path, github):
    run = run_action(workspace(tmp_path), {"comment": "always"}, env={"GITHUB_API_URL": github.url})
    assert run.returncode == 0, run.stderr
    [comment] = github.comments(REPO, PR)
    assert f"`{HEAD_SHA[:7]}`" in comment.body and f"({RUN_URL})" in comment.body
    assert HEAD_SHA[:7] not in run.summary  # the summary is on the run's own page


def test_head_sha_that_is_not_a_commit_is_not_shown(tmp_path, github):
    event = pull_request_event(head_sha="[x](https://evil.example)")
    run = run_action(workspace(tmp_path), {"comment": "always"}, event=event, env={"GITHUB_API_URL": github.url})
    assert run.returncode == 0, run.stderr
    [comment] = github.comments(REPO, PR)
    assert "evil.example" not in comment.body and f"({RUN_URL})" in comment.body


def test_failed_run_marks_the_existing_comment_as_stale(tmp_path, github):
    ws = workspace(tmp_path)
    env = {"GITHUB_API_URL": github.url}
    inputs = {"identities": ALICE, "baseline": write_baseline(ws, "alice.json", ["ec2:DescribeInstances"])}
    assert run_action(ws, inputs, env=env).returncode == 0
    [comment] = github.comments(REPO, PR)
    assert "s3:ListAllMyBuckets" in comment.body

    with FakeOIDCProvider(repository=REPO) as oidc:
        failing = {**oidc.env(), **env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "wrong <b>@admin</b>"}
        failed = run_action(ws, {**inputs, "role-to-assume": ROLE, "aws-region": "us-east-1"}, env=failing)
    assert failed.returncode == 1, failed.stderr
    [updated] = github.comments(REPO, PR)
    assert updated.id == comment.id
    assert updated.body.startswith(marker("policy/alice.json"))
    assert "latest run failed" in updated.body and "OIDC token \\(HTTP 401\\)" in updated.body
    assert "s3:ListAllMyBuckets" not in updated.body  # the old verdict is gone, not left standing
    assert f"`{HEAD_SHA[:7]}`" in updated.body and f"({RUN_URL})" in updated.body


def test_failed_run_creates_no_comment(tmp_path, github):
    with FakeOIDCProvider(repository=REPO) as oidc:
        env = {**oidc.env(), "GITHUB_API_URL": github.url, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "wrong"}
        failed = run_action(workspace(tmp_path), {"comment": "always", "role-to-assume": ROLE,
                                                  "aws-region": "us-east-1"}, env=env)
    assert failed.returncode == 1
    assert github.writes() == []


def test_bad_input_found_during_the_run_also_marks_the_comment(tmp_path, github):
    ws = workspace(tmp_path)
    env = {"GITHUB_API_URL": github.url}
    assert run_action(ws, {"comment": "always"}, env=env).returncode == 0
    failed = run_action(ws, {"comment": "always", "source": "no-such-logs"}, env=env)
    assert failed.returncode == 2
    [comment] = github.comments(REPO, PR)
    assert "latest run failed" in comment.body and "no\\-such\\-logs" in comment.body
