"""``trailpolicy record``: run any command and print the ``trailpolicy generate`` that covers it.

It notes who the AWS credentials belong to (STS GetCallerIdentity) and when the command ran, so
that the policy for a deployment (terraform, cdk, sam, tkm, ...) can be generated once CloudTrail
has delivered its events. The command's own exit status is passed through, and the generate
command is printed even when the command failed: a failed deployment still made calls that
needed permissions.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import TextIO

from . import console
from .aws import Sessions
from .errors import UsageError
from .identity import parse_arn, role_arn
from .query import validate_region
from .timeparse import iso

# Shells' conventions for a command that could not be started.
EXIT_NOT_FOUND, EXIT_NOT_EXECUTABLE = 127, 126
MINUTE = timedelta(minutes=1)


def record_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Whole minutes, widened by one more on each side: the local clock and AWS's may differ by
    seconds, and a call made just before the command returned may carry a later eventTime."""
    floor = start.replace(second=0, microsecond=0)
    ceiling = end.replace(second=0, microsecond=0)
    if ceiling < end:
        ceiling += MINUTE
    return floor - MINUTE, ceiling + MINUTE


def generate_command(identity: str, start: datetime, end: datetime, regions: list[str]) -> list[str]:
    argv = ["trailpolicy", "generate", "--start-time", iso(start), "--end-time", iso(end), "--identity", identity]
    for region in regions:
        argv += ["--region", region]
    return argv


def _run(command: list[str], stderr: TextIO) -> int:
    """Run ``command`` in the foreground; its exit status, or a shell's for one that cannot start."""
    try:
        proc = subprocess.Popen(command)
    except FileNotFoundError:
        console.error(f"{command[0]}: command not found", stream=stderr)
        return EXIT_NOT_FOUND
    except PermissionError:
        console.error(f"{command[0]}: permission denied", stream=stderr)
        return EXIT_NOT_EXECUTABLE
    with proc:
        while True:
            try:
                status = proc.wait()
                break
            except KeyboardInterrupt:
                continue  # the command got the same Ctrl-C; what it does with it decides the status
    return status if status >= 0 else 128 - status


def run_record(regions: list[str], command: list[str], sessions: Sessions | None = None,
               stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UsageError("record needs a command to run, e.g. trailpolicy record -- terraform apply")
    sessions = sessions or Sessions()
    checked = list(dict.fromkeys(validate_region(r) for r in regions))
    if not checked:
        if not sessions.region:
            raise UsageError("no AWS region: pass --region (repeatable) or set AWS_REGION or a profile's region")
        checked = [sessions.region]
    caller = sessions.caller()
    started = datetime.now(UTC)
    status = _run(command, stderr)
    ended = datetime.now(UTC)
    start, end = record_window(started, ended)
    spec = parse_arn(caller.arn)
    lines = [
        f"# {shlex.join(command)} ran from {iso(started.replace(microsecond=0))} to "
        f"{iso(ended.replace(microsecond=0))} as {caller.arn} (exit status {status})",
    ]
    if spec is not None and spec.kind == "assumed-role":
        lines.append(f"# every session of its role: --identity {role_arn(spec)}")
    lines.append("# CloudTrail delivers events up to ~15 minutes late: run this then, or add --wait-for-events 15m")
    lines.append(shlex.join(generate_command(caller.arn, start, end, checked)))
    stdout.write("\n".join(lines) + "\n")
    stdout.flush()
    return status
