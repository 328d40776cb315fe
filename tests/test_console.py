"""stderr in a CI log: event text can never start a line of its own.

The GitHub Actions runner executes workflow commands found in a step's output, on stdout and
stderr alike: a line starting with ``::`` (``::error::``, ``::add-mask::``, ``::stop-commands::``)
or holding the legacy ``##[command]``. Event text reaches stderr in warnings (unmapped call names,
reasons, file names, ARNs, baseline keys), so a newline in it must not end trailpolicy's line.
"""

from __future__ import annotations

import io
import json
import re

from tests.action_env import ALICE, run_action, workspace
from tests.conftest import record, run_cli, write_log
from trailpolicy import console

INJECTED = "Describe\n::error::x\r::add-mask::y\u2028##[warning]z"
OWN_COMMAND = re.compile(r"^::(error|warning|notice) title=trailpolicy::|^::add-mask::")


def hostile_log(folder):
    """A log whose call name carries workflow commands, and a bad file whose name does."""
    write_log(folder / "trail.json.gz", [
        record(INJECTED, "ec2.amazonaws.com", arn=ALICE),
        record("ListBuckets", "s3.amazonaws.com", arn=ALICE),
    ])
    (folder / "bad\n::error::file.json").write_text("{not a log")


def assert_no_foreign_commands(*outputs: str) -> None:
    for output in outputs:
        for line in output.splitlines():
            assert not line.lstrip().startswith("::") or OWN_COMMAND.match(line), line
            assert "##[" not in line, line


def test_clean_keeps_text_on_one_visible_line():
    assert console.clean("a\nb\r\tc\x1b[31m\u2028\u202e") == "a\\nb\\r\\tc\\x1b[31m\\u2028\\u202e"
    assert console.clean("##[error]x") == "##\u200b[error]x"
    assert console.clean("plain arn:aws:iam::1:user/a") == "plain arn:aws:iam::1:user/a"


def test_every_kind_of_line_is_one_line():
    out = io.StringIO()
    console.warn("no events for arn\n::error::x", stream=out)
    console.error("bad\rinput", stream=out)
    console.info("waiting\n", stream=out)
    assert out.getvalue().splitlines() == [
        "trailpolicy: warning: no events for arn\\n::error::x",
        "trailpolicy: error: bad\\rinput",
        "trailpolicy: waiting\\n",
    ]


def test_cli_warnings_about_hostile_events_stay_on_their_line(tmp_path):
    hostile_log(tmp_path / "logs")
    out = run_cli("generate", "--source", str(tmp_path / "logs"), "--start-time", "2024-05-01T11:00:00Z",
                  "--end-time", "2024-05-01T13:00:00Z", "--no-progress")
    stderr = out.stderr.decode()
    assert out.returncode == 0, stderr
    assert "unmapped: ec2.amazonaws.com:Describe\\n::error::x" in stderr
    assert "skipped " in stderr and "bad\\n::error::file.json" in stderr
    assert_no_foreign_commands(stderr)


def test_cli_error_naming_a_hostile_baseline_key_is_one_line(tmp_path):
    bad = tmp_path / "baseline.json"
    bad.write_text(json.dumps({f"{ALICE}\n::error::x": {"Statement": [{"Effect": "Maybe"}]}}))
    out = run_cli("diff", str(bad), str(bad))
    stderr = out.stderr.decode()
    assert out.returncode == 2
    assert len(stderr.splitlines()) == 1 and stderr.startswith("trailpolicy: error: ")
    assert_no_foreign_commands(stderr)


def test_action_output_holds_only_its_own_workflow_commands(tmp_path):
    ws = workspace(tmp_path, records=[])
    hostile_log(ws / "logs")
    run = run_action(ws, {"comment": "never"})
    assert run.returncode == 0, run.stderr
    assert "Describe\\n::error::x" in run.stderr
    assert_no_foreign_commands(run.stdout, run.stderr)

    (ws / "baseline.json").write_text(json.dumps({f"{ALICE}\n::error::x": {"Statement": [{"Effect": "Maybe"}]}}))
    bad = run_action(ws, {"baseline": "baseline.json"})
    assert bad.returncode == 2
    assert len(bad.commands("error")) == 1 and len(bad.stderr.splitlines()) == 1
    assert_no_foreign_commands(bad.stdout, bad.stderr)
