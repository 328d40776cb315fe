"""Benchmark: what the S3 source lists and fetches, beside what the archive holds.

Fills a bucket in moto (server mode, its own process on 127.0.0.1) with an organization trail's
layout, ACCOUNTS x REGIONS x DAYS with FILES per day plus digest files, then runs
``trailpolicy generate --source s3://...`` for a few hours as a user would and prints, from its
report, the objects listed, files needed and files downloaded beside the objects in the bucket,
and the list requests beside the pages a full listing of the prefix would take. Not a test: the
point is the ratios (how little of the archive a window touches), not moto's seconds.

    python bench/s3.py                         # 2 accounts, 3 regions, 30 days, 12 files a day
    python bench/s3.py --accounts 4 --days 60
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from logs import synthetic_record

ORG = "o-abcdefghij"
BUCKET = "org-trail"
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2", "eu-central-1", "sa-east-1")
START = datetime(2024, 5, 1, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("moto server did not start")


def fill(url: str, accounts: int, regions: int, days: int, files: int, events: int) -> int:
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=BUCKET)
    rng = random.Random(7)
    jobs = []
    for a in range(accounts):
        account = f"{a + 1:012d}"
        for region in REGIONS[:regions]:
            for d in range(days):
                day = START + timedelta(days=d)
                folder = f"AWSLogs/{ORG}/{account}/CloudTrail/{region}/{day:%Y/%m/%d}/"
                for n in range(files):
                    when = day + timedelta(hours=24 * n / files)
                    body = gzip.compress(json.dumps({"Records": [synthetic_record(rng, when, region) for _ in range(events)]}).encode())
                    jobs.append((f"{folder}{account}_CloudTrail_{region}_{when:%Y%m%dT%H%MZ}_{n:04d}.json.gz", body))
                digest = f"AWSLogs/{ORG}/{account}/CloudTrail-Digest/{region}/{day:%Y/%m/%d}/{account}_CloudTrail-Digest_{region}_{day:%Y%m%dT0000Z}.json.gz"
                jobs.append((digest, b"{}"))
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda job: client.put_object(Bucket=BUCKET, Key=job[0], Body=job[1]), jobs))
    return len(jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=2)
    parser.add_argument("--regions", type=int, default=3, choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--files", type=int, default=12, help="files per account, region and day")
    parser.add_argument("--events", type=int, default=20, help="events per file")
    args = parser.parse_args()

    moto, url = start_moto()
    try:
        started = time.perf_counter()
        total = fill(url, args.accounts, args.regions, args.days, args.files, args.events)
        print(f"filled {total:,} objects in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        window = START + timedelta(days=args.days // 2)
        env = {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", "PATH": "/usr/bin:/bin"}
        with tempfile.TemporaryDirectory() as out:
            command = [sys.executable, "-m", "trailpolicy.cli", "generate", "--no-progress", "--source", f"s3://{BUCKET}",
                       "--start-time", f"{window + timedelta(hours=9):%Y-%m-%dT%H:%M:%SZ}",
                       "--end-time", f"{window + timedelta(hours=15):%Y-%m-%dT%H:%M:%SZ}", "--output-dir", out]
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, env={**env, **{k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "HOME")}})
            seconds = time.perf_counter() - started
            if done.returncode != 0:
                raise SystemExit(done.stderr.decode()[-2000:])
            source = json.loads((Path(out) / "report.json").read_text())["run"]["sources"][0]
    finally:
        moto.terminate()
        moto.wait()

    full_pages = -(-total // 1000)  # ListObjectsV2 returns at most 1,000 keys a page
    print(f"archive: {args.accounts} accounts x {args.regions} regions x {args.days} days x {args.files} files "
          f"(+1 digest a day), a 6-hour window; {seconds:.1f}s against moto")
    print("| | objects | share of bucket |")
    print("|---|---:|---:|")
    for name, value in (("in the bucket", total), ("listed by trailpolicy", source["objects_listed"]),
                        ("needed (log files in the window's day prefixes)", source["files_needed"]),
                        ("downloaded", source["files_downloaded"])):
        print(f"| {name} | {value:,} | {value / total:.1%} |")
    print(f"| list requests (trailpolicy / a full listing of the prefix) | {source['list_requests']} / {full_pages} | |")


if __name__ == "__main__":
    main()
