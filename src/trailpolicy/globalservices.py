"""Global services: CloudTrail records their calls in one region per partition (us-east-1).

A run limited to other regions misses them — the IAM and STS calls of a deployment — so the
tally counts such events under their own reason and the pipeline warns before it reads.
The facts are in ``data/global_services.yaml`` with their source.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

_DATA = Path(__file__).resolve().parent / "data" / "global_services.yaml"


@cache
def _facts() -> dict:
    with open(_DATA, encoding="utf-8") as f:
        return yaml.safe_load(f)


@cache
def event_sources() -> frozenset[str]:
    return frozenset(_facts()["event_sources"])


def recording_region(partition: str) -> str | None:
    return _facts()["recording_region"].get(partition)


def missing_region(regions: tuple[str, ...], partitions: set[str]) -> list[str]:
    """The recording regions a region-limited query leaves out, one per partition asked for."""
    if not regions:
        return []
    wanted = (recording_region(p) for p in sorted(partitions or {"aws"}))
    return [r for r in wanted if r and r not in regions]
