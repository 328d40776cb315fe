"""Running ``entrypoint.py`` the way the runner runs a container action, and reading what it left.

The runner hands a container action its inputs as ``INPUT_<NAME>`` with hyphens kept, the
workspace, ``GITHUB_OUTPUT`` and ``GITHUB_STEP_SUMMARY`` files, and the event payload; these
helpers build exactly that environment on loopback and parse the files back.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT, cli_env, record, write_log

REPO = "o/r"
PR = 7
START, END = "2024-05-01T11:00:00Z", "2024-05-01T13:00:00Z"
ALICE = "arn:aws:iam::111122223333:user/alice"
BOB = "arn:aws:iam::111122223333:user/bob"
HEAD_SHA = "0123abcd" * 5
RUN_URL = "https://github.com/o/r/actions/runs/4242"


def pull_request_event(number: int = PR, head_repo: str = REPO, head_sha: str = HEAD_SHA) -> dict:
    """The parts of a ``pull_request`` webhook payload that matter: number, head (commit, repo), base."""
    return {"action": "synchronize", "number": number, "pull_request": {
        "number": number,
        "head": {"ref": "feature", "sha": head_sha, "repo": {"full_name": head_repo, "fork": head_repo != REPO}},
        "base": {"ref": "main", "repo": {"full_name": REPO, "fork": False}},
    }}


@dataclass
class ActionRun:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    workspace: Path

    def commands(self, name: str) -> list[str]:
        """Messages of the ``::name ...::message`` workflow commands on stdout."""
        return [m.group(1) for m in re.finditer(rf"^::{name}(?: [^:]*)?::(.*)$", self.stdout, re.M)]


def parse_outputs(text: str) -> dict[str, str]:
    """``GITHUB_OUTPUT``'s two forms: ``name=value`` and ``name<<DELIM`` ... ``DELIM``."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            value = []
            for inner in lines:
                if inner == delimiter:
                    break
                value.append(inner)
            outputs[name] = "\n".join(value)
        elif line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def workspace(tmp_path: Path, records: list[dict] | None = None) -> Path:
    """A checked-out repository with a CloudTrail log in ``logs/`` (alice's calls by default)."""
    ws = tmp_path / "workspace"
    recs = records if records is not None else [
        record("DescribeInstances", time="2024-05-01T12:00:00Z", arn=ALICE),
        record("ListBuckets", "s3.amazonaws.com", time="2024-05-01T12:01:00Z", arn=ALICE),
        record("GetCallerIdentity", "sts.amazonaws.com", time="2024-05-01T12:02:00Z", arn=BOB),
    ]
    write_log(ws / "logs" / "trail.json.gz", recs)
    return ws


def run_action(ws: Path, inputs: dict[str, str], *, event: dict | None = None, env: dict[str, str] | None = None,
               token: str | None = "ghs_testtoken") -> ActionRun:
    """Run ``entrypoint.py`` as a subprocess with the runner's container-action environment."""
    runner = ws.parent / "runner"
    runner.mkdir(exist_ok=True)
    output, summary, event_path = runner / "output", runner / "summary.md", runner / "event.json"
    output.write_text("")
    summary.write_text("")
    event_path.write_text(json.dumps(event if event is not None else pull_request_event()))
    environ = cli_env(
        GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(ws), GITHUB_OUTPUT=str(output),
        GITHUB_STEP_SUMMARY=str(summary), GITHUB_EVENT_PATH=str(event_path), GITHUB_EVENT_NAME="pull_request",
        GITHUB_REPOSITORY=REPO, GITHUB_RUN_ID="4242", GITHUB_RUN_ATTEMPT="1", GITHUB_SERVER_URL="https://github.com",
    )
    defaults = {"start-time": START, "end-time": END, "source": "logs", "output-dir": "trailpolicy-out",
                "fail-on-drift": "never", "comment": "on-drift", "audience": "sts.amazonaws.com"}
    if token is not None:
        defaults["github-token"] = token
    for name, value in {**defaults, **inputs}.items():
        environ[f"INPUT_{name.upper()}"] = value
    environ.update(env or {})
    done = subprocess.run([sys.executable, str(ROOT / "entrypoint.py")], capture_output=True, text=True,
                          env=environ, cwd=ws, timeout=120)
    return ActionRun(done.returncode, done.stdout, done.stderr, parse_outputs(output.read_text()),
                     summary.read_text(), ws)
