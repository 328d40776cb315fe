"""The runner's file and command formats, as ``trailpolicy.github.env`` writes and reads them."""

from __future__ import annotations

import io
import json

from tests.action_env import parse_outputs
from trailpolicy.github.comment import marker
from trailpolicy.github.env import SUMMARY_LIMIT, ActionEnv, split_list


def make_env(tmp_path, **extra) -> tuple[ActionEnv, io.StringIO]:
    out = io.StringIO()
    environ = {"GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
               "GITHUB_WORKSPACE": str(tmp_path), "GITHUB_REPOSITORY": "o/r", **extra}
    (tmp_path / "output").write_text("")
    (tmp_path / "summary").write_text("")
    return ActionEnv(environ, stdout=out), out


def test_inputs_keep_hyphens_and_lists_take_lines_or_commas(tmp_path):
    env, _ = make_env(tmp_path, **{"INPUT_START-TIME": " 2024-05-01T12:00:00Z\n", "INPUT_REGIONS": "us-east-1,\n eu-west-1 ,,"})
    assert env.input("start-time") == "2024-05-01T12:00:00Z"
    assert env.list_input("regions") == ["us-east-1", "eu-west-1"]
    assert env.input("output-dir", "trailpolicy-out") == "trailpolicy-out"
    assert split_list("a\nb, c") == ["a", "b", "c"]


def test_multiline_output_uses_a_delimiter_not_in_the_value(tmp_path):
    env, _ = make_env(tmp_path)
    env.set_output("one", "x=y")
    env.set_output("many", "first\nsecond=2\n")
    text = (tmp_path / "output").read_text()
    assert text.startswith("one=x=y\nmany<<ghadelimiter_")
    assert parse_outputs(text) == {"one": "x=y", "many": "first\nsecond=2\n"}


def test_summary_is_cut_to_the_runners_limit_at_a_line_end(tmp_path):
    env, _ = make_env(tmp_path)
    (tmp_path / "summary").write_text("earlier step\n")
    line = "| `arn:aws:iam::111122223333:role/é` | 3 |\n"
    env.write_summary(line * (2 * SUMMARY_LIMIT // len(line)))
    data = (tmp_path / "summary").read_bytes()
    assert len(data) <= SUMMARY_LIMIT
    text = data.decode("utf-8")
    assert text.startswith("earlier step\n")
    assert "1 MiB step-summary limit" in text
    assert text.split("\n\n> [!NOTE]")[0].endswith(line)


def test_small_summary_is_written_whole(tmp_path):
    env, _ = make_env(tmp_path)
    assert env.write_summary("## hi\n")
    assert (tmp_path / "summary").read_text() == "## hi\n"


def test_workflow_commands_are_escaped_to_one_line(tmp_path):
    env, out = make_env(tmp_path)
    env.error("50% done\nnext line")
    env.mask("s3cr3t")
    assert out.getvalue() == "::error title=trailpolicy::50%25 done%0Anext line\n::add-mask::s3cr3t\n"


def test_pull_request_and_fork_from_the_event_payload(tmp_path):
    event = tmp_path / "event.json"
    env, _ = make_env(tmp_path, GITHUB_EVENT_PATH=str(event))
    event.write_text(json.dumps({"pull_request": {"number": 3, "head": {"repo": {"full_name": "o/r"}},
                                                  "base": {"repo": {"full_name": "o/r"}}}}))
    assert env.pull_request().number == 3 and not env.pull_request().from_fork
    event.write_text(json.dumps({"pull_request": {"number": 3, "head": {"repo": {"full_name": "x/r"}},
                                                  "base": {"repo": {"full_name": "o/r"}}}}))
    assert env.pull_request().from_fork
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    assert env.pull_request() is None
    for number in (True, False, 0, -1, "3", 3.0, None):
        event.write_text(json.dumps({"pull_request": {"number": number}}))
        assert env.pull_request() is None, number
    event.write_text(json.dumps({"pull_request": {"number": 3, "head": "x", "base": ["y"]}}))
    assert env.pull_request().number == 3


def test_paths_are_relative_to_the_workspace(tmp_path):
    env, _ = make_env(tmp_path)
    assert env.in_workspace("policy/base.json") == tmp_path / "policy" / "base.json"
    assert str(env.in_workspace("/abs/x")) == "/abs/x"


def test_one_marker_per_baseline_that_cannot_close_the_html_comment():
    assert marker("policies/a.json") != marker("policies/b.json")
    assert marker("") == "<!-- trailpolicy:comment baseline=(none) -->"
    assert marker("x-->y z").count("-->") == 1


def test_marker_tells_apart_paths_that_read_alike_and_joins_spellings_of_one_path():
    # The readable part replaces unusual characters; the hash of the path keeps them apart.
    assert marker("policy/a b.json") != marker("policy/a_b.json") != marker("policy/a\tb.json")
    assert marker("policy/a--b.json") != marker("policy/a-_b.json")
    assert marker("./policy/a.json") == marker("policy//a.json") == marker("policy/x/../a.json")
    assert marker("policy/a.json").startswith("<!-- trailpolicy:comment baseline=policy/a.json id=")
