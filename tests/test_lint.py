"""The code, Dockerfile, workflows and action.yml checked as CI checks them (``pip install .[lint]``).

These linters run offline and in well under a second; where they are not installed the tests skip.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

WORKFLOWS = sorted(str(p) for p in (ROOT / ".github" / "workflows").glob("*.yml"))


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (pip install .[lint])")
    return found


def check(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflows_exist():
    assert {Path(p).name for p in WORKFLOWS} >= {"ci.yml", "example.yml"}


def test_hadolint_dockerfile():
    check(tool("hadolint"), "Dockerfile")


def test_workflows_match_githubs_schema():
    check(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)


def test_action_yml_matches_githubs_schema():
    check(tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", "action.yml")


def test_ruff_finds_nothing():
    check(tool("ruff"), "check", "src", "tests", "bench", "tools", "entrypoint.py")


def test_zizmor_finds_nothing():
    check(tool("zizmor"), "--offline", "--no-progress", ".")
