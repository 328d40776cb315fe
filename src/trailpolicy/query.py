"""What a run asks for: a time window, identities, regions, and how to reach other accounts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from .errors import UsageError
from .identity import IdentitySpec, parse_identity_option
from .timeparse import parse_instant

# Commercial, China, GovCloud and ISO regions: us-east-1, cn-north-1, us-gov-west-1, us-isob-east-1.
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}\Z")


@dataclass(frozen=True, slots=True)
class Query:
    start: datetime
    end: datetime
    identities: tuple[IdentitySpec, ...] = ()
    regions: tuple[str, ...] = ()  # empty: every region the source has
    role_name: str | None = None
    extra: dict = field(default_factory=dict, compare=False)

    def in_window(self, when: datetime) -> bool:
        return self.start <= when <= self.end


def validate_region(region: str) -> str:
    value = region.strip()
    if not _REGION.match(value):
        raise UsageError(f"--region {region!r} is not an AWS region name (e.g. us-east-1)")
    return value


def build_query(
    start_time: str,
    end_time: str,
    identities: list[str] | None = None,
    regions: list[str] | None = None,
    role_name: str | None = None,
) -> Query:
    """Parse and check user input into a Query; every problem is a UsageError with one line."""
    start = parse_instant(start_time, "--start-time")
    end = parse_instant(end_time, "--end-time")
    if end <= start:
        raise UsageError(f"--end-time {end_time} is not after --start-time {start_time}")
    specs: list[IdentitySpec] = []
    for arn in identities or []:
        spec = parse_identity_option(arn)
        if spec not in specs:
            specs.append(spec)
    checked = tuple(dict.fromkeys(validate_region(r) for r in regions or []))
    if role_name is not None and not re.match(r"^[\w+=,.@/-]{1,512}\Z", role_name):
        raise UsageError(f"--role-name {role_name!r} is not an IAM role name")
    return Query(start=start, end=end, identities=tuple(specs), regions=checked, role_name=role_name)
