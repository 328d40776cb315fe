"""The hand-verified reference set (tests/data/mapping_reference.yaml): trailpolicy must get every
entry right, and the set must stay rich in the cases a naive mapping gets wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from trailpolicy import catalog
from trailpolicy.mapping import map_call

ENTRIES = yaml.safe_load((Path(__file__).parent / "data" / "mapping_reference.yaml").read_text())["entries"]


def test_reference_set_is_large_and_hard() -> None:
    assert len(ENTRIES) >= 150
    naive_right = sum(
        1
        for e in ENTRIES
        if not e.get("skip") and {a.lower() for a in e["expect"]} == {f"{e['source'].split('.')[0]}:{e['name']}".lower()}
    )
    assert naive_right / len(ENTRIES) < 0.5


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{e['source']}:{e['name']}" for e in ENTRIES])
def test_reference_entry(entry: dict) -> None:
    assert entry["ref"].startswith("https://docs.aws.amazon.com/")
    m = map_call(entry["source"], entry["name"], entry.get("type"))
    if entry.get("skip"):
        assert m.skip_reason and not m.actions, m
        return
    for action in entry["expect"]:
        assert catalog.exists(action), f"reference names {action}, not in the catalog"
    assert {a.lower() for a in m.actions} == {a.lower() for a in entry["expect"]}, m
