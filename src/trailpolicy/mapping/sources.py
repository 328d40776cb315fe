"""Event source host -> IAM service prefix.

CloudTrail names a service by a host (``monitoring.amazonaws.com``); IAM names it by a prefix
(``cloudwatch``). The two agree for most services, not all. The answer comes from, in order: the
hand-written ``event_source_overrides.yaml`` (facts botocore does not tell, each with a source),
the generated ``event_sources.yaml`` (botocore endpoint prefixes and signing names), and last the
host's first label when that label is an IAM prefix in the catalog.
"""

from __future__ import annotations

from functools import cache

from trailpolicy import catalog
from trailpolicy.mapping._data import load


@cache
def _overrides() -> dict[str, dict]:
    return dict(load("event_source_overrides.yaml").get("event_sources") or {})


@cache
def _generated() -> dict[str, str]:
    return dict(load("event_sources.yaml").get("event_sources") or {})


@cache
def iam_prefix(event_source: str) -> tuple[str | None, str]:
    """(IAM prefix or None, the rule that decided it, for ``explain``)."""
    host = event_source.strip().lower()
    override = _overrides().get(host)
    if override is not None:
        prefix = override.get("prefix")
        return prefix, (
            f"event source {host} -> IAM prefix {prefix} "
            f"(event_source_overrides.yaml; source: {override.get('source')})"
        )
    generated = _generated().get(host)
    if generated is not None:
        return generated, (
            f"event source {host} -> IAM prefix {generated} "
            "(event_sources.yaml, generated from botocore service models)"
        )
    label = host.split(".", 1)[0]
    if host.endswith(".amazonaws.com") and catalog.has_prefix(label):
        return label, f"event source {host} -> IAM prefix {label} (the host's first label is an IAM prefix)"
    return None, f"event source {host}: no IAM prefix known"
