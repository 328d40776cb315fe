"""action.yml, the Dockerfile and the pins agree with the code that reads them."""

from __future__ import annotations

import re
import tomllib

import yaml
from packaging.requirements import Requirement

from tests.conftest import ROOT

ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
SOURCE = (ROOT / "src" / "trailpolicy" / "action.py").read_text()


def test_every_input_is_read_and_every_read_input_is_declared():
    read = set(re.findall(r'env\.(?:input|list_input|choice_input)\("([a-z-]+)"', SOURCE))
    assert read == set(ACTION["inputs"])


def test_every_output_is_declared_and_set():
    written = set(re.findall(r'env\.set_output\("([a-z-]+)"', SOURCE))
    assert written == set(ACTION["outputs"])


def test_container_action_built_from_the_dockerfile_with_an_exec_form_entrypoint():
    assert ACTION["runs"] == {"using": "docker", "image": "Dockerfile"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    [entrypoint] = re.findall(r"^ENTRYPOINT (.*)$", dockerfile, re.M)
    assert entrypoint.startswith("[")  # a shell would drop INPUT_START-TIME-style variables
    assert not re.search(r"^USER ", dockerfile, re.M)


def test_pins_are_exact_and_cover_every_runtime_dependency():
    pins = {}
    for line in (ROOT / "requirements-action.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            req = Requirement(line)
            [spec] = req.specifier
            assert spec.operator == "==", line
            pins[req.name.lower()] = spec.version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for dependency in project["dependencies"]:
        req = Requirement(dependency)
        assert req.name.lower() in pins, f"{req.name} is not pinned in requirements-action.txt"
        assert req.specifier.contains(pins[req.name.lower()]), f"{req.name} pin is outside {req.specifier}"
