"""Benchmark: reading a CloudTrail log archive, beside the floor of merely parsing it.

Writes a synthetic archive of N events (~1 KB each) in CloudTrail's S3 delivery layout, then runs
``trailpolicy generate --source DIR`` as a user would (a subprocess) and, in the same run, the
floor: decompressing and parsing the same files with orjson and doing nothing else, once in one
process and once across as many processes as trailpolicy uses. Prints events/s, peak memory and
the ratios. Not a test: machines are noisy, so compare the ratios, not the seconds.

With trailscraper installed (``--trailscraper PATH`` or ``$TRAILSCRAPER``: its executable, best
from a virtualenv of its own, since it pins old dependencies), the same files are also read by
``trailscraper select --log-dir DIR | trailscraper generate`` in the same run, for comparison.

    python bench/logs.py                 # 200,000 events in 200 files
    python bench/logs.py --events 1000000 --files 1000
    TRAILSCRAPER=/path/to/venv/bin/trailscraper python bench/logs.py
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ACCOUNT = "111122223333"
REGIONS = ("us-east-1", "eu-west-1")
START = datetime(2024, 5, 1, tzinfo=UTC)
CALLS = [
    ("ec2.amazonaws.com", "DescribeInstances"), ("ec2.amazonaws.com", "RunInstances"),
    ("s3.amazonaws.com", "GetObject"), ("s3.amazonaws.com", "PutObject"), ("s3.amazonaws.com", "ListObjects"),
    ("s3.amazonaws.com", "GetBucketPolicy"), ("iam.amazonaws.com", "GetRole"), ("iam.amazonaws.com", "CreateRole"),
    ("lambda.amazonaws.com", "GetFunction20150331v2"), ("lambda.amazonaws.com", "Invoke"),
    ("kms.amazonaws.com", "Decrypt"), ("kms.amazonaws.com", "GenerateDataKey"), ("sts.amazonaws.com", "AssumeRole"),
    ("dynamodb.amazonaws.com", "GetItem"), ("sqs.amazonaws.com", "SendMessage"), ("logs.amazonaws.com", "PutLogEvents"),
    ("monitoring.amazonaws.com", "PutMetricData"), ("ssm.amazonaws.com", "GetParameter"),
    ("secretsmanager.amazonaws.com", "GetSecretValue"), ("cloudformation.amazonaws.com", "DescribeStacks"),
]


def synthetic_record(rng: random.Random, when: datetime, region: str) -> dict:
    source, name = rng.choice(CALLS)
    if rng.random() < 0.5:
        user = f"user-{rng.randrange(10)}"
        identity = {"type": "IAMUser", "principalId": "AIDA" + "X" * 17, "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
                    "accountId": ACCOUNT, "accessKeyId": "AKIA" + "Y" * 16, "userName": user}
    else:
        role = f"role-{rng.randrange(10)}"
        session = f"session-{rng.randrange(1000)}"
        identity = {"type": "AssumedRole", "principalId": f"AROA{'Z' * 17}:{session}",
                    "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}", "accountId": ACCOUNT,
                    "accessKeyId": "ASIA" + "W" * 16,
                    "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROA" + "Z" * 17,
                                                         "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                                                         "accountId": ACCOUNT, "userName": role},
                                       "attributes": {"creationDate": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                                      "mfaAuthenticated": "false"}}}
    record = {
        "eventVersion": "1.08", "userIdentity": identity, "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source, "eventName": name, "awsRegion": region, "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.amzn.2 prompt/off command/" + name.lower(),
        "requestParameters": {"bucketName": "example-bucket", "key": f"data/{rng.randrange(10**6)}.json",
                              "Host": "example-bucket.s3.amazonaws.com"},
        "responseElements": None, "requestID": f"{rng.getrandbits(64):016X}",
        "eventID": f"{rng.getrandbits(128):032x}", "readOnly": name.startswith(("Get", "Describe", "List")),
        "eventType": "AwsApiCall", "managementEvent": source not in ("s3.amazonaws.com",),
        "recipientAccountId": ACCOUNT, "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                       "clientProvidedHostHeader": f"{source.split('.')[0]}.{region}.amazonaws.com"},
    }
    if rng.random() < 0.05:
        record["errorCode"] = "AccessDenied"
        record["errorMessage"] = "User is not authorized to perform this operation"
    return record


def write_archive(root: Path, events: int, files: int, seed: int = 7) -> Path:
    """``events`` records spread over ``files`` gzipped files, 24 hours, two regions."""
    rng = random.Random(seed)
    per_file = events // files
    span = timedelta(hours=24)
    for n in range(files):
        region = REGIONS[n % len(REGIONS)]
        first = START + span * n / files
        records = [synthetic_record(rng, first + timedelta(seconds=i * 86400 / events), region) for i in range(per_file)]
        folder = root / "AWSLogs" / ACCOUNT / "CloudTrail" / region / first.strftime("%Y/%m/%d")
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{ACCOUNT}_CloudTrail_{region}_{first.strftime('%Y%m%dT%H%MZ')}_{n:05d}.json.gz"
        (folder / name).write_bytes(gzip.compress(json.dumps({"Records": records}).encode(), compresslevel=6))
    return root


def parse_file(path: str) -> int:
    with open(path, "rb") as f:
        return len(orjson.loads(gzip.decompress(f.read()))["Records"])


def floor(paths: list[str], workers: int) -> tuple[float, int]:
    started = time.perf_counter()
    if workers == 1:
        count = sum(parse_file(p) for p in paths)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            count = sum(pool.map(parse_file, paths, chunksize=4))
    return time.perf_counter() - started, count


def measure(command: list[str]) -> tuple[float, float, str]:
    """Run ``command`` in a fresh child that reports its own descendants' peak RSS (MiB)."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
        "dt = time.perf_counter() - t\n"
        "sys.stderr.buffer.write(p.stderr)\n"
        "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, check=True)
    seconds, rss_kib, code = out.stdout.split()
    if code != "0":
        raise SystemExit(f"command failed ({code}): {' '.join(command)}\n{out.stderr[-2000:]}")
    return float(seconds), int(rss_kib) / 1024, out.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--dir", type=Path, help="reuse or keep the archive here")
    parser.add_argument("--trailscraper", default=os.environ.get("TRAILSCRAPER"),
                        help="trailscraper executable to compare with (default: $TRAILSCRAPER)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root = args.dir or Path(scratch) / "archive"
        if not (root / "AWSLogs").exists():
            started = time.perf_counter()
            write_archive(root, args.events, args.files)
            print(f"wrote {args.events:,} events in {args.files} files in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        paths = sorted(str(p) for p in root.rglob("*.json.gz"))
        size = sum(os.path.getsize(p) for p in paths)
        workers = os.cpu_count() or 1

        command = [sys.executable, "-m", "trailpolicy.cli", "generate", "--no-progress", "--source", str(root),
                   "--start-time", "2024-04-30T00:00:00Z", "--end-time", "2024-05-03T00:00:00Z"]
        seconds, rss, _ = measure(command)
        floor_one, count = floor(paths, 1)
        floor_all, _ = floor(paths, workers)
        rows = [
            ("trailpolicy generate --source DIR", seconds, rss),
            ("floor: gunzip + orjson, 1 process", floor_one, None),
            (f"floor: gunzip + orjson, {workers} processes", floor_all, None),
        ]
        if args.trailscraper:
            ts = shlex.quote(args.trailscraper)
            pipeline = (f"{ts} select --log-dir {shlex.quote(str(root))} --from 2024-04-30 --to 2024-05-03 "
                        f"| {ts} generate > /dev/null")
            ts_seconds, ts_rss, _ = measure(["bash", "-c", f"set -o pipefail; {pipeline}"])
            rows.append(("trailscraper 0.10.0 select \\| generate", ts_seconds, ts_rss))
        print(f"{count:,} events, {len(paths)} files, {size / 2**20:.1f} MiB gzipped, {workers} cores")
        print(f"| run | seconds | events/s | peak RSS MiB | x floor ({workers} proc) | x floor (1 proc) |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, secs, peak in rows:
            print(f"| {name} | {secs:.2f} | {count / secs:,.0f} | {'' if peak is None else f'{peak:.0f}'} "
                  f"| {secs / floor_all:.2f} | {secs / floor_one:.2f} |")
        if args.trailscraper:
            print(f"trailpolicy: {ts_seconds / seconds:.1f}x trailscraper's speed, {ts_rss / rss:.0f}x less peak memory")


if __name__ == "__main__":
    main()
