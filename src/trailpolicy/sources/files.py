"""Log files on disk: one file, a folder of them at any depth, or standard input (``-``).

Folders are read by a pool of worker processes, a chunk of files per task, each worker folding
its files into a small Tally; only those tallies cross process boundaries, so the cost of a run
is decompressing and parsing, not shipping events around.
"""

from __future__ import annotations

import os
import sys
from functools import partial
from pathlib import Path

from ..errors import UsageError
from ..progress import Progress
from ..query import Query
from ..tally import Tally
from .batches import CHUNK_BYTES, PARALLEL_MIN_BYTES, fold_batches, settle_bad_inputs
from .layout import is_log_file, keep_dir
from .logformat import BadLog, fold_logs, read_log


class FileSource:
    def __init__(self, path: str, progress: bool = True, workers: int | None = None) -> None:
        self.path = path
        self.progress = progress
        self.workers = workers or os.cpu_count() or 1

    def collect(self, query: Query) -> Tally:
        if self.path == "-":
            return self._collect_stdin(query)
        root = Path(self.path)
        if not root.exists():
            raise UsageError(f"--source {self.path}: no such file or folder")
        if root.is_file():
            return self._collect_single(root, query)
        files = list(find_logs(root, query))
        if not files:
            raise UsageError(f"--source {self.path}: no CloudTrail log files (.json, .json.gz) for this window")
        tally = self._collect_many(files, query)
        settle_bad_inputs(tally, len(files), self.path)
        tally.sources.append(self._describe(files, len(tally.bad_inputs)))
        return tally

    def _describe(self, files: list[tuple[str, int]], bad: int) -> dict:
        return {
            "kind": "files",
            "location": self.path,
            "files_read": len(files) - bad,
            "files_bad": bad,
            "bytes_read": sum(size for _, size in files),
            "data_events": True,
            "note": "log files hold every event the trail recorded, data events included when the trail logs them",
        }

    def _collect_stdin(self, query: Query) -> Tally:
        data = sys.stdin.buffer.read()
        try:
            tally = read_log(data, query)
        except BadLog as exc:
            raise UsageError(f"--source -: standard input: {exc}") from None
        tally.sources.append({"kind": "stdin", "location": "-", "bytes_read": len(data), "data_events": True})
        return tally

    def _collect_single(self, path: Path, query: Query) -> Tally:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"--source {path}: cannot read ({exc.strerror})") from None
        try:
            tally = read_log(data, query)
        except BadLog as exc:
            raise UsageError(f"--source {path}: {exc}") from None
        tally.sources.append(self._describe([(str(path), path.stat().st_size)], 0))
        return tally

    def _collect_many(self, files: list[tuple[str, int]], query: Query) -> Tally:
        chunks = _chunks(files, self.workers)
        total = Tally()
        progress = Progress("reading logs", total=len(files), enabled=self.progress)

        def merged(paths: list[str], part: Tally) -> None:
            total.merge(part)
            progress.advance(len(paths), part.events_read)

        parallel = len(chunks) > 1 and self.workers > 1 and sum(size for _, size in files) >= PARALLEL_MIN_BYTES
        try:
            fold_batches(([p for p, _ in chunk] for chunk in chunks), partial(read_chunk, query=query), merged,
                         workers=self.workers, parallel=parallel)
        finally:
            progress.close()
        return total


def read_chunk(paths: list[str], query: Query) -> Tally:
    """Worker task: fold a few files into one Tally; a bad file is noted, the others still count."""
    return fold_logs(((path, _read(path)) for path in paths), query)


def _read(path: str) -> bytes | BadLog:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        return BadLog(f"cannot read ({exc.strerror})")


def find_logs(root: Path, query: Query) -> list[tuple[str, int]]:
    """Log files below ``root`` (path, size), skipping day and region folders the query excludes."""
    found: list[tuple[str, int]] = []
    root_text = str(root)
    for folder, dirs, names in os.walk(root_text):
        rel = os.path.relpath(folder, root_text)
        parts = () if rel == "." else tuple(Path(rel).parts)
        dirs[:] = sorted(d for d in dirs if keep_dir(parts + (d,), query))
        for name in sorted(names):
            if is_log_file(name):
                path = os.path.join(folder, name)
                found.append((path, os.path.getsize(path)))
    return found


def _chunks(files: list[tuple[str, int]], workers: int) -> list[list[tuple[str, int]]]:
    """Group files into tasks of about CHUNK_BYTES, and at least a few tasks per worker."""
    total = sum(size for _, size in files)
    target = max(1, min(CHUNK_BYTES, total // (workers * 4) or 1))
    chunks: list[list[tuple[str, int]]] = [[]]
    size = 0
    for item in files:
        if chunks[-1] and size + item[1] > target:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += item[1]
    return chunks
