"""Parsing the ``s3://`` and ``athena://`` forms of ``--source``: where, plus ``?key=value`` options.

Options ride on the source URL rather than on new command-line flags because they only make sense
for one kind of source (a workgroup for Athena, the archive's account for S3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from ..errors import UsageError

ACCOUNT = re.compile(r"^\d{12}\Z")


@dataclass(frozen=True)
class Location:
    spec: str
    host: str  # bucket, or database.table
    path: str  # key prefix without the leading slash ('' for none)
    options: dict[str, list[str]]

    def one(self, name: str, default: str | None = None) -> str | None:
        values = self.options.get(name)
        if not values:
            return default
        if len(values) > 1:
            raise UsageError(f"--source {self.spec}: {name}= given more than once")
        return values[0]

    def accounts(self, name: str = "account") -> tuple[str, ...]:
        """Account ids from ``name=ID`` (repeatable, or comma-separated), each checked."""
        found: list[str] = []
        for value in self.options.get(name, []):
            for item in value.split(","):
                account = item.strip()
                if not ACCOUNT.match(account):
                    raise UsageError(f"--source {self.spec}: {name}={item!r} is not a 12-digit AWS account id")
                if account not in found:
                    found.append(account)
        return tuple(found)


def parse_location(spec: str, scheme: str, allowed: frozenset[str]) -> Location:
    """Split ``scheme://host/path?options``; unknown options are a usage error, not ignored."""
    parts = urlsplit(spec)
    if parts.scheme != scheme or not parts.netloc:
        raise UsageError(f"--source {spec!r}: expected {scheme}://...")
    try:
        options = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise UsageError(f"--source {spec}: cannot read the options after '?' (expected key=value&...)") from None
    unknown = sorted(set(options) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise UsageError(f"--source {spec}: unknown option {unknown[0]!r} (known: {known})")
    return Location(spec=spec, host=parts.netloc, path=parts.path.lstrip("/"), options=options)
