"""The GitHub Actions runner's side of a container action: inputs, outputs, summary, event.

Facts of the runner this module respects (GitHub's "Metadata syntax" and "Workflow commands"
documentation):

- An input ``start-time`` arrives as ``INPUT_START-TIME``: upper-cased, hyphens kept. Shells drop
  such names, so the image uses an exec-form ENTRYPOINT and this module reads ``os.environ``.
- Outputs are appended to the file named by ``GITHUB_OUTPUT``, as ``name=value`` or, for values
  with a newline, ``name<<DELIMITER`` ... ``DELIMITER`` with a delimiter that is not in the value.
- The job summary is markdown appended to ``GITHUB_STEP_SUMMARY``; a step's summary larger than
  1 MiB is refused by the runner (the step gets an error annotation and no summary at all), so
  this module cuts it short itself, with a note that says where the rest is.
- Annotations and masks are workflow commands on stdout (``::error::``, ``::add-mask::``), with
  ``%``, CR and LF escaped as ``%25``, ``%0D``, ``%0A``.
- The event that started the run is the JSON file named by ``GITHUB_EVENT_PATH``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..errors import SourceError, UsageError

SUMMARY_LIMIT = 1024 * 1024  # bytes, per step
SUMMARY_CUT_NOTE = (
    "\n\n> [!NOTE]\n> This summary was cut to fit GitHub's 1 MiB step-summary limit; "
    "the full report is in the output directory (upload it as an artifact).\n"
)


def escape_data(text: str) -> str:
    """Escape a workflow command's message so that it stays one command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_SERVER = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._~/-]*)?")


def split_list(text: str) -> list[str]:
    """A list input, one item per line or comma-separated (or both); blanks dropped."""
    return [item.strip() for item in re.split(r"[,\n]", text) if item.strip()]


@dataclass(frozen=True)
class PullRequest:
    """The parts of a ``pull_request`` event payload the action needs."""

    number: int
    # True when the head branch lives in another repository: the job then has a read-only
    # GITHUB_TOKEN and no OIDC token, whatever the workflow's ``permissions`` say.
    from_fork: bool
    # The commit the run is for (the head of the pull request); None when the payload has no
    # commit id, so that nothing but hex digits is ever shown as one.
    head_sha: str | None = None


class ActionEnv:
    """One step's view of the runner, read from an environment mapping (``os.environ`` by default)."""

    def __init__(self, environ: Mapping[str, str] | None = None, stdout: TextIO | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.stdout = stdout or sys.stdout

    # -- inputs -------------------------------------------------------------------------------

    def input(self, name: str, default: str = "") -> str:
        """The input ``name`` (as spelled in action.yml), stripped; ``default`` when empty or unset."""
        value = self.environ.get(f"INPUT_{name.upper()}", "").strip()
        return value or default

    def list_input(self, name: str) -> list[str]:
        return split_list(self.input(name))

    def choice_input(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.input(name, default).lower()
        if value not in choices:
            raise UsageError(f"input {name} {value!r} is not one of: {', '.join(choices)}")
        return value

    # -- where things are -----------------------------------------------------------------------

    @property
    def workspace(self) -> Path:
        """The checked-out repository (``/github/workspace`` in a container action)."""
        return Path(self.environ.get("GITHUB_WORKSPACE") or os.getcwd())

    def in_workspace(self, relative: str) -> Path:
        """A path input, resolved against the workspace when it is relative."""
        path = Path(relative)
        return path if path.is_absolute() else self.workspace / path

    @property
    def repository(self) -> str:
        return self.environ.get("GITHUB_REPOSITORY", "")

    @property
    def run_url(self) -> str | None:
        """The page of this workflow run, or None when the runner's variables do not make one."""
        server = (self.environ.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
        run_id = self.environ.get("GITHUB_RUN_ID", "")
        if not (_SERVER.fullmatch(server) and _REPOSITORY.fullmatch(self.repository) and run_id.isdecimal()):
            return None
        return f"{server}/{self.repository}/actions/runs/{run_id}"

    @property
    def api_url(self) -> str:
        return self.environ.get("GITHUB_API_URL") or "https://api.github.com"

    def event(self) -> dict:
        path = self.environ.get("GITHUB_EVENT_PATH")
        if not path:
            return {}
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return payload if isinstance(payload, dict) else {}

    def pull_request(self) -> PullRequest | None:
        """The pull request this run is for, or None (push, schedule, workflow_dispatch...)."""
        pr = self.event().get("pull_request")
        number = _field(pr, "number")
        # bool is an int in Python; "number": true is no pull request number.
        if type(number) is not int or number < 1:
            return None
        head = _field(pr, "head", "repo", "full_name")
        base = _field(pr, "base", "repo", "full_name") or self.repository
        sha = _field(pr, "head", "sha")
        return PullRequest(number=number, from_fork=bool(head) and head != base,
                           head_sha=sha if isinstance(sha, str) and _SHA.fullmatch(sha) else None)

    # -- outputs, summary, workflow commands -----------------------------------------------------

    def set_output(self, name: str, value: str) -> None:
        path = self.environ.get("GITHUB_OUTPUT")
        if not path:
            return
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
            line = f"{name}<<{delimiter}\n{value}\n{delimiter}\n"
        else:
            line = f"{name}={value}\n"
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(line)
        except OSError as exc:
            raise SourceError(f"cannot write the step outputs to GITHUB_OUTPUT {path}: {exc.strerror or exc}") from None

    def write_summary(self, markdown: str) -> bool:
        """Append to the step summary, cut to the runner's limit; False when there is no summary file."""
        path = self.environ.get("GITHUB_STEP_SUMMARY")
        if not path:
            return False
        try:
            used = os.path.getsize(path)
        except OSError:
            used = 0
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(fit(markdown, SUMMARY_LIMIT - used, SUMMARY_CUT_NOTE))
        except OSError as exc:
            raise SourceError(f"cannot write the step summary to GITHUB_STEP_SUMMARY {path}: "
                              f"{exc.strerror or exc}") from None
        return True

    def command(self, name: str, message: str, **properties: str) -> None:
        props = ",".join(f"{k}={escape_property(v)}" for k, v in properties.items())
        self.stdout.write(f"::{name}{' ' + props if props else ''}::{escape_data(message)}\n")
        self.stdout.flush()

    def notice(self, message: str) -> None:
        self.command("notice", message, title="trailpolicy")

    def warning(self, message: str) -> None:
        self.command("warning", message, title="trailpolicy")

    def error(self, message: str) -> None:
        self.command("error", message, title="trailpolicy")

    def mask(self, secret: str) -> None:
        """Tell the runner to hide ``secret`` in every later log line."""
        if secret:
            self.command("add-mask", secret)


def _field(payload: object, *keys: str) -> object:
    """``payload[k1][k2]...``, or None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(payload, dict):
            return None
        payload = payload.get(key)
    return payload


def fit(text: str, limit: int, note: str) -> str:
    """``text`` if it fits in ``limit`` UTF-8 bytes, else cut at a line end with ``note`` appended."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = max(0, limit - len(note.encode("utf-8")))
    head = data[:room].decode("utf-8", errors="ignore")
    if "\n" in head:
        head = head[: head.rindex("\n") + 1]
    return head + note if room else ""
