#!/usr/bin/env python3
"""How right is the event -> IAM action mapping? Two measurements, printed as tables.

1. On the hand-verified reference set (tests/data/mapping_reference.yaml): the share of entries
   that naive ``prefix:eventName`` (the eventSource host's first label) gets right, next to the
   share trailpolicy gets right. An entry is right when the set of actions equals the expected
   set (IAM compares action names case-insensitively), or, for a call that needs no permission,
   when no action is emitted (trailpolicy: skipped; naive always emits one, so it is wrong).
2. On every dataset in ../shared/datasets/cloudtrail/*.json.gz: the share of distinct
   (eventSource, eventName, eventType) that map, are skipped, or stay unmapped, and which stay
   unmapped. Every action produced is asserted to exist in the IAM catalog.

Usage: python bench/mapping_accuracy.py [DATASET_DIR]
"""

from __future__ import annotations

import gzip
import sys
from collections import Counter
from pathlib import Path

import orjson
import yaml

from trailpolicy import catalog
from trailpolicy.mapping import map_call

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "mapping_reference.yaml"
DATASETS = ROOT.parent / "shared" / "datasets" / "cloudtrail"


def _norm(actions) -> frozenset[str]:
    return frozenset(a.lower() for a in actions)


def reference() -> None:
    entries = yaml.safe_load(REFERENCE.read_text())["entries"]
    naive_right = ours_right = 0
    wrong: list[str] = []
    for e in entries:
        source, name, etype = e["source"], e["name"], e.get("type")
        naive = {f"{source.split('.')[0]}:{name}"}
        mapping = map_call(source, name, etype)
        if e.get("skip"):
            ours_ok = mapping.skip_reason is not None
            naive_ok = False
        else:
            expected = _norm(e["expect"])
            ours_ok = _norm(mapping.actions) == expected
            naive_ok = _norm(naive) == expected
        naive_right += naive_ok
        ours_right += ours_ok
        if not ours_ok:
            wrong.append(f"  {source} {name}: got {list(mapping.actions) or mapping.skip_reason or mapping.unmapped_reason}")
    n = len(entries)
    print(f"Reference set ({REFERENCE.relative_to(ROOT)}): {n} event names")
    print(f"  {'mapping':<28}{'right':>8}{'share':>9}")
    print(f"  {'naive prefix:eventName':<28}{naive_right:>8}{naive_right / n:>9.1%}")
    print(f"  {'trailpolicy':<28}{ours_right:>8}{ours_right / n:>9.1%}")
    if wrong:
        print("  trailpolicy wrong on:")
        print("\n".join(wrong))
    print()


def _records(path: Path):
    with gzip.open(path, "rb") as f:
        return orjson.loads(f.read()).get("Records") or []


def datasets(folder: Path) -> None:
    files = sorted(folder.glob("*.json.gz"))
    if not files:
        print(f"no datasets in {folder}")
        return
    print(f"Datasets ({folder}): distinct (eventSource, eventName, eventType)")
    print(f"  {'dataset':<40}{'distinct':>9}{'mapped':>9}{'skipped':>9}{'unmapped':>9}{'mapped of needing':>19}")
    all_unmapped: dict[tuple, str] = {}
    total: Counter = Counter()
    seen_all: set = set()
    for path in files:
        calls = {(r.get("eventSource"), r.get("eventName"), r.get("eventType")) for r in _records(path)}
        calls = {c for c in calls if isinstance(c[0], str) and isinstance(c[1], str)}
        counts: Counter = Counter()
        for call in calls:
            m = map_call(*call)
            for action in m.actions:
                assert catalog.exists(action), f"{call} -> {action} is not in the IAM catalog"
            kind = "mapped" if m.actions else "skipped" if m.skip_reason else "unmapped"
            counts[kind] += 1
            if kind == "unmapped":
                all_unmapped[call[:2]] = m.unmapped_reason or ""
            if call not in seen_all:
                seen_all.add(call)
                total[kind] += 1
        _row(path.name.removesuffix(".json.gz"), len(calls), counts)
    _row("all (distinct over files)", len(seen_all), total)
    print(f"\n  unmapped ({len(all_unmapped)}):")
    for (source, name), why in sorted(all_unmapped.items()):
        print(f"    {source} {name!r}: {why}")


def _row(label: str, n: int, c: Counter) -> None:
    needing = c["mapped"] + c["unmapped"]
    share = c["mapped"] / needing if needing else 1.0
    print(
        f"  {label:<40}{n:>9}{c['mapped'] / n:>9.1%}{c['skipped'] / n:>9.1%}{c['unmapped'] / n:>9.1%}{share:>19.1%}"
    )


def main(argv: list[str]) -> int:
    reference()
    datasets(Path(argv[1]) if len(argv) > 1 else DATASETS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
