"""Where events come from. Each source turns a Query into a Tally; ``open_source`` picks one.

Like pip-audit's dependency sources, each implementation is one module behind one small
interface, so the pipeline after a source never knows which one it was.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import UsageError
from ..query import Query
from ..tally import Tally


class Source(Protocol):
    """Reads the events a Query selects and returns them folded into a Tally."""

    def collect(self, query: Query) -> Tally: ...


def open_source(spec: str, *, progress: bool = True, options: dict | None = None) -> Source:
    """The source named by ``--source``: ``cloudtrail`` (the API), a path, ``-``, ``s3://``, ``athena://``."""
    options = options or {}
    if not spec.strip():
        raise UsageError("--source is empty; name cloudtrail, a log file or folder, -, s3://... or athena://...")
    if spec == "cloudtrail":
        from .lookup import LookupSource

        return LookupSource(progress=progress, allow_partial=bool(options.get("allow_partial")))
    if spec.startswith("s3://"):
        from .s3 import S3Source

        return S3Source(spec, progress=progress)
    if spec.startswith("athena://"):
        from .athena import AthenaSource

        return AthenaSource(spec)
    from .files import FileSource

    return FileSource(spec, progress=progress)
