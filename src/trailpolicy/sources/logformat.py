"""The CloudTrail log-file format: bytes in, events out; shared by every file-based source.

Accepted shapes: CloudTrail's delivered ``{"Records": [...]}`` (gzipped or not), a bare JSON list
of records, and the output of ``aws cloudtrail lookup-events`` (``{"Events": [{"CloudTrailEvent":
"..."}]}``), which users often save. Anything else is not a CloudTrail log and is refused whole:
a damaged file is reported, not half-read.
"""

from __future__ import annotations

import gzip
import zlib

import orjson

from ..events import BadRecord
from ..tally import Collector, Tally

GZIP_MAGIC = b"\x1f\x8b"


class BadLog(ValueError):
    """An input that is not a readable CloudTrail log; the message says why in a few words."""


def load_records(data: bytes) -> list:
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise BadLog(f"truncated or corrupt gzip ({exc})") from None
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadLog(f"not JSON ({exc})") from None
    if isinstance(document, dict):
        if isinstance(document.get("Records"), list):
            return document["Records"]
        if isinstance(document.get("Events"), list):
            return [_lookup_record(item) for item in document["Events"]]
        raise BadLog('not a CloudTrail log (no "Records" list)')
    if isinstance(document, list):
        return document
    raise BadLog('not a CloudTrail log (expected {"Records": [...]})')


def _lookup_record(item: object) -> dict:
    text = item.get("CloudTrailEvent") if isinstance(item, dict) else None
    if not isinstance(text, str):
        raise BadLog("a lookup-events entry has no CloudTrailEvent")
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise BadLog("a lookup-events entry's CloudTrailEvent is not JSON") from None
    return record


def tally_log(data: bytes, collector: Collector) -> Tally:
    """Read one log's bytes into a fresh Tally using ``collector``'s query and caches.

    The caller merges the result only when the whole file was good, so a damaged file never
    contributes half of its events.
    """
    records = load_records(data)
    own = Tally()
    previous, collector.tally = collector.tally, own
    try:
        collector.add(records)
    except BadRecord as exc:
        raise BadLog(str(exc)) from None
    finally:
        collector.tally = previous
    return own
