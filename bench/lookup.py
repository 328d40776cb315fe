"""LookupEvents reading speed against the rate-limit floor (not a test: it prints figures).

Workload: 20,000 management events in two regions of one account (10,000 each), 10% of them by
the target identity, served by the fake CloudTrail (tests/fakes/cloudtrail.py) at the real limit
of 2 requests/second per account and region. Two targets:

- a role ARN (any session): no lookup attribute can select it, so every page of the window is
  read: 200 pages per region;
- an IAM user: the Username attribute selects its 1,000 events per region: 20 pages.

Readers: trailpolicy's LookupSource; a plain boto3 paginator with adaptive retries (one thread
per region, so that the difference is pacing, not running lanes one after another), given the
same lookup attribute as trailpolicy; and the floor = the most pages any one lane must read,
divided by 2 requests/second.

Run from the repository root:  PYTHONPATH=src python bench/lookup.py [--events 20000] [--runs 1]
It takes a few minutes, as the real API would.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from tests.fakes.cloudtrail import DEFAULT_ACCOUNT, FakeCloudTrail  # noqa: E402
from tests.fakes.moto import MotoServer  # noqa: E402
from trailpolicy.query import build_query  # noqa: E402
from trailpolicy.sources.lookup import LookupSource, limits  # noqa: E402

REGIONS = ("us-east-1", "eu-west-1")
ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/Deployer"
USER = f"arn:aws:iam::{DEFAULT_ACCOUNT}:user/deployer"
BASE = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
NAMES = ["DescribeInstances", "RunInstances", "CreateBucket", "PutObject", "GetRole", "ListUsers", "CreateStack"]


def workload(per_region: int, target: str) -> dict[str, list[dict]]:
    """``per_region`` events per region, every tenth by ``target``, the rest by 50 other users."""
    out: dict[str, list[dict]] = {}
    for region in REGIONS:
        records = []
        for i in range(per_region):
            if i % 10 == 0:
                identity = _identity(target, i)
            else:
                name = f"user{i % 50}"
                identity = {"type": "IAMUser", "arn": f"arn:aws:iam::{DEFAULT_ACCOUNT}:user/{name}",
                            "accountId": DEFAULT_ACCOUNT, "userName": name}
            records.append({
                "eventVersion": "1.08", "userIdentity": identity, "eventSource": "ec2.amazonaws.com",
                "eventTime": (BASE + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "eventName": NAMES[i % len(NAMES)], "awsRegion": region, "eventType": "AwsApiCall",
                "recipientAccountId": DEFAULT_ACCOUNT, "managementEvent": True,
            })
        out[region] = records
    return out


def _identity(target: str, i: int) -> dict:
    if target == USER:
        return {"type": "IAMUser", "arn": USER, "accountId": DEFAULT_ACCOUNT, "userName": "deployer"}
    session = f"ci-{i % 37}"
    return {"type": "AssumedRole", "arn": f"arn:aws:sts::{DEFAULT_ACCOUNT}:assumed-role/Deployer/{session}",
            "accountId": DEFAULT_ACCOUNT,
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": ROLE, "accountId": DEFAULT_ACCOUNT}}}


def run_trailpolicy(query) -> int:
    tally = LookupSource(progress=False).collect(query)
    return tally.events_read


def run_paginator(query, endpoint: str, attribute: str | None) -> int:
    """What a script would do: a paginator per region, adaptive retries, no pacing of its own."""
    counts: dict[str, int] = {}
    errors: list[BaseException] = []

    def lane(region: str) -> None:
        client = boto3.client("cloudtrail", region_name=region, endpoint_url=endpoint,
                              config=Config(retries={"mode": "adaptive"}))
        params: dict = {"StartTime": query.start, "EndTime": query.end}
        if attribute:
            params["LookupAttributes"] = [{"AttributeKey": "Username", "AttributeValue": attribute}]
        try:
            counts[region] = sum(len(page["Events"]) for page in client.get_paginator("lookup_events").paginate(**params))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=lane, args=(region,)) for region in REGIONS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return sum(counts.values())


def measure(ct: FakeCloudTrail, label: str, fn) -> dict:
    time.sleep(1.1)  # let the fake's one-second windows empty between readers
    first = len(ct.requests)
    started = time.monotonic()
    try:
        events, failed = fn(), None
    except Exception as exc:
        events, failed = 0, f"{type(exc).__name__}: {exc}"
    wall = time.monotonic() - started
    requests = ct.requests[first:]
    return {"reader": label, "wall": wall, "calls": len(requests),
            "throttles": sum(1 for r in requests if r.throttled), "events": events, "failed": failed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events in all (split over 2 regions)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each reader")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto logs every request otherwise
    rate = float(limits()["requests_per_second"])
    page = int(limits()["max_results"])
    per_region = args.events // len(REGIONS)
    rows = []
    with MotoServer() as moto, FakeCloudTrail(rate=rate) as ct:
        import os

        os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": REGIONS[0], "AWS_ENDPOINT_URL_CLOUDTRAIL": ct.url,
                           "AWS_ENDPOINT_URL_STS": moto.url})
        os.environ.pop("TRAILPOLICY_LOOKUP_RATE", None)
        for target, attribute in ((ROLE, None), (USER, "deployer")):
            ct.clear()
            data = workload(per_region, target)
            for region, records in data.items():
                ct.add_records(DEFAULT_ACCOUNT, region, records)
            expected = sum(len(r) for r in data.values()) if attribute is None else per_region // 10 * len(REGIONS)
            must_read = math.ceil((per_region if attribute is None else per_region // 10) / page)
            floor = must_read / rate
            query = build_query((BASE - timedelta(minutes=1)).isoformat(), (BASE + timedelta(days=1)).isoformat(),
                                [target], list(REGIONS))
            kind = "role ARN (scan)" if attribute is None else "IAM user (Username)"
            for _ in range(args.runs):
                for label, fn in (("trailpolicy", lambda q=query: run_trailpolicy(q)),
                                  ("boto3 paginator, adaptive retries",
                                   lambda q=query, a=attribute: run_paginator(q, ct.url, a))):
                    row = measure(ct, label, fn)
                    row.update(target=kind, floor=floor, pages=must_read, expected=expected)
                    rows.append(row)
                    print(_line(row), flush=True, file=sys.stderr)
    print(f"\n{args.events:,} events in {len(REGIONS)} regions, 10% by the target; fake CloudTrail at "
          f"{rate:g} requests/s per lane; floor = most pages in one lane / {rate:g} per second\n")
    print("| target | reader | wall s | x floor | API calls | throttled | events read | complete |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for target in dict.fromkeys(r["target"] for r in rows):
        first = next(r for r in rows if r["target"] == target)
        print(f"| {target} | floor ({first['pages']} pages per lane) | {first['floor']:.1f} | 1.00 | "
              f"{first['pages'] * len(REGIONS)} | 0 | {first['expected']:,} | |")
        for r in (r for r in rows if r["target"] == target):
            print(_line(r))
    return 1 if any(r["failed"] or r["events"] != r["expected"] for r in rows if r["reader"] == "trailpolicy") else 0


def _line(r: dict) -> str:
    complete = "failed: " + r["failed"][:60] if r["failed"] else ("yes" if r["events"] == r["expected"] else "NO")
    return (f"| {r['target']} | {r['reader']} | {r['wall']:.1f} | {r['wall'] / r['floor']:.2f} | {r['calls']} | "
            f"{r['throttles']} | {r['events']:,} | {complete} |")


if __name__ == "__main__":
    sys.exit(main())
