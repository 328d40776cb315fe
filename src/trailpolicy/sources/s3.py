"""A CloudTrail archive in S3: ``s3://bucket/prefix``, read without listing what the query cannot need.

CloudTrail delivers to ``<prefix>/AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/``
(see ``layout``). Delimiter listings find the accounts and regions; then only the day prefixes of
the window (``layout.days``: a day before, a day after for late delivery) are listed in full. An
organization bucket holds years of files for hundreds of accounts, so this is the difference
between listing a few hundred keys and millions.

Accounts: every account under the prefix, unless ``?account=ID`` narrows it. ``--identity`` does
not narrow it, because an identity's calls are recorded in the account that *received* them
(``recipientAccountId``), which for cross-account access is not the identity's own.

Reading: objects are fetched by a pool of threads (S3 is latency-bound) and parsed by the shared
``logformat``/``Collector`` code. Above a few MB, chunks of keys go to worker processes that fetch
and parse their own chunk, so parsing uses every core and only small Tallies cross processes.
Keys are listed, chunked and read as a stream with a bounded number of chunks in flight: memory
stays flat however long the window.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import boto3
from botocore.config import Config

from ..aws import Sessions
from ..errors import UsageError
from ..progress import Progress
from ..query import Query
from ..tally import Tally
from .batches import CHUNK_BYTES, PARALLEL_MIN_BYTES, fold_batches, settle_bad_inputs
from .failures import aws_call
from .layout import NON_EVENT_DIRS, days, is_log_file, keep_dir
from .location import ACCOUNT, parse_location
from .logformat import BadLog, fold_logs

DOWNLOAD_THREADS = 8
MAX_KEYS_PER_TASK = 64
ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}\Z")
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=DOWNLOAD_THREADS * 2)
OPTIONS = frozenset({"account", "bucket-account"})


@dataclass
class Counts:
    """What the source did, for the report and for ``bench/s3.py``."""

    list_requests: int = 0
    day_prefixes: int = 0
    objects_listed: int = 0
    files_needed: int = 0
    bytes_needed: int = 0
    files_downloaded: int = 0
    bytes_downloaded: int = 0
    accounts: set[str] = field(default_factory=set)
    regions: set[str] = field(default_factory=set)


class S3Source:
    def __init__(self, spec: str, progress: bool = True, workers: int | None = None,
                 sessions: Sessions | None = None) -> None:
        self.spec = spec
        location = parse_location(spec, "s3", OPTIONS)
        self.bucket = location.host
        self.prefix = location.path if not location.path or location.path.endswith("/") else location.path + "/"
        self.accounts = location.accounts("account")
        owners = location.accounts("bucket-account")
        if len(owners) > 1:
            raise UsageError(f"--source {spec}: give one bucket-account")
        self.bucket_account = owners[0] if owners else None
        self.progress = progress
        self.workers = workers or os.cpu_count() or 1
        self._sessions = sessions
        self.counts = Counts()

    def collect(self, query: Query) -> Tally:
        self.counts = Counts()  # per read: --wait-for-events reads the archive more than once
        session = self._session(query)
        client = session.client("s3", config=CLIENT_CONFIG)
        tally = self._read(client, session, self._log_files(client, query), query)
        counts = self.counts
        if not counts.files_needed:
            raise UsageError(
                f"--source {self.spec}: no CloudTrail log files for this window "
                f"({counts.day_prefixes} day prefixes listed in {len(counts.accounts)} account(s))"
            )
        settle_bad_inputs(tally, counts.files_downloaded, self.spec)
        bad = len(tally.bad_inputs)
        wanted = days(query)
        tally.sources.append({
            "kind": "s3",
            "location": self.spec,
            "accounts": sorted(counts.accounts),
            "regions": sorted(counts.regions),
            "days": {"first": wanted[0].isoformat(), "last": wanted[-1].isoformat()},
            "list_requests": counts.list_requests,
            "day_prefixes_listed": counts.day_prefixes,
            "objects_listed": counts.objects_listed,
            "files_needed": counts.files_needed,
            "files_downloaded": counts.files_downloaded,
            "files_read": counts.files_downloaded - bad,
            "files_bad": bad,
            "bytes_downloaded": counts.bytes_downloaded,
            "data_events": True,
            "note": "the archive holds every event the trail recorded, data events included when the trail logs them",
        })
        return tally

    # -- credentials -------------------------------------------------------------------------

    def _session(self, query: Query) -> boto3.Session:
        """The base credentials, or with ``--role-name`` that role in the bucket's account."""
        sessions = self._sessions or Sessions()
        if query.role_name is None:
            return sessions.base
        if self.bucket_account is None:
            raise UsageError(
                f"--role-name with --source {self.spec}: say which account owns the bucket, "
                f"e.g. s3://{self.bucket}/{self.prefix}?bucket-account=111122223333"
            )
        return sessions.for_account(self.bucket_account, sessions.caller().partition, query.role_name)

    # -- listing -----------------------------------------------------------------------------

    def _list(self, client, prefix: str, delimiter: bool) -> Iterator[dict]:
        """Pages of ListObjectsV2 under ``prefix``; S3 failures become clear errors."""
        kwargs = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = "/"
        missing = {"NoSuchBucket": f"--source {self.spec}: no such bucket {self.bucket!r}"}
        with aws_call(f"cannot list s3://{self.bucket}/{prefix}", missing):
            for page in client.get_paginator("list_objects_v2").paginate(**kwargs):
                self.counts.list_requests += 1
                yield page

    def _children(self, client, prefix: str) -> list[str]:
        names: list[str] = []
        for page in self._list(client, prefix, delimiter=True):
            for common in page.get("CommonPrefixes", ()):
                names.append(common["Prefix"][len(prefix):].rstrip("/"))
        return names

    def _trail_roots(self, client, prefix: str, depth: int = 0) -> Iterator[tuple[str, str]]:
        """(account, ``.../<account>/CloudTrail/`` prefix) for each account under ``prefix``."""
        parts = [p for p in prefix.split("/") if p]
        if parts and parts[-1] == "CloudTrail":
            if len(parts) < 2 or not ACCOUNT.match(parts[-2]):
                raise UsageError(f"--source {self.spec}: expected .../<account>/CloudTrail/")
            if not self.accounts or parts[-2] in self.accounts:
                yield parts[-2], prefix
            return
        if "CloudTrail" in parts or set(parts) & NON_EVENT_DIRS:
            raise UsageError(f"--source {self.spec}: give the prefix at or above <account>/CloudTrail/, not inside it")
        if depth > 4:
            return
        for child in self._children(client, prefix):
            below = f"{prefix}{child}/"
            if child == "CloudTrail" and parts and ACCOUNT.match(parts[-1]):
                yield from self._trail_roots(client, below, depth + 1)
            elif ACCOUNT.match(child):
                if not self.accounts or child in self.accounts:
                    yield from self._trail_roots(client, below, depth + 1)
            elif child == "AWSLogs" or ORG_ID.match(child):
                yield from self._trail_roots(client, below, depth + 1)

    def _log_files(self, client, query: Query) -> Iterator[tuple[str, int]]:
        """(key, size) of every log file the query needs, listed lazily, prefix by prefix."""
        wanted = days(query)
        counts = self.counts
        roots = 0
        for account, root in self._trail_roots(client, self.prefix):
            roots += 1
            counts.accounts.add(account)
            for region in self._children(client, root):
                if not keep_dir(tuple(p for p in f"{root}{region}".split("/") if p), query):
                    continue
                counts.regions.add(region)
                for day in wanted:
                    counts.day_prefixes += 1
                    for page in self._list(client, f"{root}{region}/{day:%Y/%m/%d}/", delimiter=False):
                        for item in page.get("Contents", ()):
                            counts.objects_listed += 1
                            key = item["Key"]
                            if is_log_file(key.rsplit("/", 1)[-1]):
                                counts.files_needed += 1
                                counts.bytes_needed += item["Size"]
                                yield key, item["Size"]
        if not roots:
            narrowed = f" for account(s) {', '.join(self.accounts)}" if self.accounts else ""
            raise UsageError(
                f"--source {self.spec}: no CloudTrail delivery folders{narrowed} "
                "(expected AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/ under the prefix)"
            )

    # -- reading -----------------------------------------------------------------------------

    def _read(self, client, session: boto3.Session, files: Iterator[tuple[str, int]], query: Query) -> Tally:
        """Fold every listed file into one Tally: in this process for a small window, else in
        worker processes, a bounded number of batches in flight."""
        total = Tally()
        progress = Progress(f"reading s3://{self.bucket}/{self.prefix}", enabled=self.progress)
        tasks = _tasks(files)
        buffered: list[list[tuple[str, int]]] = []
        parallel = False
        if self.workers > 1:
            # Listing streams; look ahead only as far as it takes to know the read is large.
            size = 0
            for task in tasks:
                buffered.append(task)
                size += sum(s for _, s in task)
                if size >= PARALLEL_MIN_BYTES:
                    parallel = True
                    break
        batches = ([k for k, _ in task] for task in _chain(buffered, tasks))
        initargs: tuple = ()
        if parallel:
            work = partial(_worker_read, self.bucket, query=query)
            credentials = session.get_credentials()
            frozen = credentials.get_frozen_credentials() if credentials else None
            initargs = ((frozen.access_key, frozen.secret_key, frozen.token) if frozen else None, session.region_name)
        else:
            work = partial(read_objects, client, self.bucket, query=query)
        try:
            fold_batches(batches, work, lambda _keys, part: self._merge(total, part, progress), workers=self.workers,
                         parallel=parallel, initializer=_start_worker, initargs=initargs)
        finally:
            progress.close()
        return total

    def _merge(self, total: Tally, part: tuple[Tally, int, int], progress: Progress) -> None:
        tally, downloaded, size = part
        total.merge(tally)
        self.counts.files_downloaded += downloaded
        self.counts.bytes_downloaded += size
        progress.advance(downloaded, tally.events_read)


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _tasks(files: Iterator[tuple[str, int]]) -> Iterator[list[tuple[str, int]]]:
    """Group listed files into tasks of about CHUNK_BYTES (and at most MAX_KEYS_PER_TASK keys)."""
    task: list[tuple[str, int]] = []
    size = 0
    for item in files:
        task.append(item)
        size += item[1]
        if size >= CHUNK_BYTES or len(task) >= MAX_KEYS_PER_TASK:
            yield task
            task, size = [], 0
    if task:
        yield task


def _fetch(client, bucket: str, key: str) -> bytes | BadLog:
    """The object's bytes, or a BadLog when it was deleted between listing and fetching."""
    with aws_call(f"cannot fetch s3://{bucket}/{key}"):
        try:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            return BadLog("listed but gone when fetched (NoSuchKey)")


def read_objects(client, bucket: str, keys: list[str], query: Query) -> tuple[Tally, int, int]:
    """Fetch ``keys`` with a few threads and fold each into a Tally as it arrives.

    Returns (tally, objects fetched, bytes fetched). A damaged object is noted in ``bad_inputs``
    and contributes nothing, like a damaged local file.
    """
    sizes: list[int] = []

    def fetched(key: str) -> tuple[str, bytes | BadLog]:
        data = _fetch(client, bucket, key)
        if not isinstance(data, BadLog):
            sizes.append(len(data))
        return f"s3://{bucket}/{key}", data

    with ThreadPoolExecutor(min(DOWNLOAD_THREADS, len(keys))) as pool:
        total = fold_logs(pool.map(fetched, keys), query)
    return total, len(keys), sum(sizes)


_worker_client = None


def _start_worker(credentials: tuple[str, str, str | None] | None, region: str | None) -> None:
    """Each worker process builds its own client from the parent's (possibly assumed) credentials."""
    global _worker_client
    if credentials is None:
        session = boto3.Session(region_name=region)
    else:
        key, secret, token = credentials
        session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
                                region_name=region)
    _worker_client = session.client("s3", config=CLIENT_CONFIG)


def _worker_read(bucket: str, keys: list[str], query: Query) -> tuple[Tally, int, int]:
    return read_objects(_worker_client, bucket, keys, query)
