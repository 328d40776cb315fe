"""Folding batches of logs in worker processes, shared by the local-file and S3 sources.

Parsing CloudTrail JSON is CPU-bound, so a large read goes to one process per core. Each batch
comes back as a small Tally (events never cross processes); at most two batches per worker are
in flight, so a long listing streams through with flat memory, and results are merged in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from .. import console
from ..errors import UsageError
from ..tally import Tally

# Below this much data a process pool costs more than it saves; batches aim at CHUNK_BYTES.
PARALLEL_MIN_BYTES = 4 * 1024 * 1024
CHUNK_BYTES = 8 * 1024 * 1024

Batch = TypeVar("Batch")
Result = TypeVar("Result")


def fold_batches(
    batches: Iterable[Batch],
    work: Callable[[Batch], Result],
    on_result: Callable[[Batch, Result], None],
    *,
    workers: int,
    parallel: bool,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
) -> None:
    """Run ``work`` on every batch — here, or in ``workers`` processes — and hand each result,
    in order, to ``on_result``. ``work`` must be picklable (a module function or a partial)."""
    if not parallel:
        for batch in batches:
            on_result(batch, work(batch))
        return
    with ProcessPoolExecutor(workers, initializer=initializer, initargs=initargs) as pool:
        in_flight: deque = deque()
        for batch in batches:
            in_flight.append((batch, pool.submit(work, batch)))
            if len(in_flight) >= 2 * workers:
                done, future = in_flight.popleft()
                on_result(done, future.result())
        while in_flight:
            done, future = in_flight.popleft()
            on_result(done, future.result())


def settle_bad_inputs(tally: Tally, read: int, location: str) -> None:
    """Warn about each unreadable input; refuse the run (exit 2) when none could be read."""
    if tally.bad_inputs and len(tally.bad_inputs) >= read:
        first = tally.bad_inputs[0]
        raise UsageError(f"--source {location}: no readable CloudTrail log; {first['input']}: {first['reason']}")
    for bad in tally.bad_inputs:
        console.warn(f"skipped {bad['input']}: {bad['reason']}")
