"""Loading the mapping data files (YAML under ``mapping/data/``), lazily and once.

Why lazy: ``import trailpolicy.mapping`` happens on every CLI start, and parsing the YAML costs
tens of milliseconds; only a run that maps events pays for it, and only once.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"


def _yaml_load(path: Path) -> Any:
    import yaml  # imported here so that importing the package stays fast

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=loader) or {}


@cache
def load(name: str) -> Any:
    """One data file by its name relative to ``data/`` (e.g. ``"skip.yaml"``)."""
    return _yaml_load(DATA_DIR / name)


@cache
def correction_files() -> tuple[str, ...]:
    """Names (relative to ``data/``) of the per-service correction files, sorted."""
    return tuple(
        sorted(str(p.relative_to(DATA_DIR)) for p in (DATA_DIR / "corrections").glob("*.yaml"))
    )


@cache
def corrections() -> dict[str, dict[str, dict]]:
    """event source host -> event name -> correction entry (with ``file`` added).

    A correction file lists the hosts it applies to under ``event_sources`` and its entries under
    ``events``. Names may carry ``*`` wildcards (matched after exact names).
    """
    table: dict[str, dict[str, dict]] = {}
    for name in correction_files():
        doc = load(name)
        hosts = doc.get("event_sources") or []
        for event_name, entry in (doc.get("events") or {}).items():
            item = dict(entry)
            item["file"] = name
            for host in hosts:
                per_host = table.setdefault(host, {})
                if event_name in per_host:
                    raise ValueError(f"{name}: {host} {event_name} is defined twice")
                per_host[event_name] = item
    return table


@cache
def version_rules() -> dict[str, tuple[Any, dict]]:
    """event source host -> (compiled ``<name><version suffix>`` pattern, rule) for the services that
    put API versions into CloudTrail event names (``versioned_names.yaml``)."""
    import re

    return {
        host: (re.compile(rf"^(?P<name>[A-Za-z]+?)(?P<version>{rule['suffix']})\Z"), rule)
        for host, rule in (load("versioned_names.yaml").get("event_sources") or {}).items()
    }
