"""The CloudTrail log-file format: bytes in, events out; shared by every file-based source.

Accepted shapes: CloudTrail's delivered ``{"Records": [...]}`` (gzipped or not), a bare JSON list
of records, and the output of ``aws cloudtrail lookup-events`` (``{"Events": [{"CloudTrailEvent":
"..."}]}``), which users often save. Anything else is not a CloudTrail log and is refused whole:
a damaged file is reported, not half-read.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable

import orjson

from ..events import BadRecord
from ..query import Query
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


def fold_logs(logs: Iterable[tuple[str, bytes | BadLog]], query: Query) -> Tally:
    """Fold several logs (name, bytes — or the BadLog that fetching them gave) into one Tally.

    A damaged log never contributes half of its events, yet good logs are folded straight into
    the shared Tally (a Tally per log costs a sixth of a run). The two meet by replay: when a
    record deep inside a log turns out unusable, the Tally is rebuilt from the good logs kept so
    far. Damage is rare and a batch is a few megabytes, so the replay is cheap when it happens.
    """
    tally = Tally()
    collector = Collector(query, tally)
    good: list[bytes] = []
    bad: list[dict] = []
    for name, data in logs:
        try:
            if isinstance(data, BadLog):
                raise data
            records = load_records(data)
            try:
                collector.add(records)
            except BadRecord as exc:
                tally = Tally()
                collector = Collector(query, tally)
                for kept in good:
                    collector.add(load_records(kept))
                raise BadLog(str(exc)) from None
        except BadLog as exc:
            bad.append({"input": name, "reason": str(exc)})
            continue
        good.append(data)
    tally.bad_inputs.extend(bad)
    return tally


def read_log(data: bytes, query: Query) -> Tally:
    """One log that must be whole (a single file, standard input): BadLog if it is not."""
    tally = fold_logs([("", data)], query)
    if tally.bad_inputs:
        raise BadLog(tally.bad_inputs[0]["reason"])
    return tally
