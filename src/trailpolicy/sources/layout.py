"""CloudTrail's delivery layout, shared by the log-file and S3 sources.

CloudTrail delivers to ``AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz``
(https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-find-log-files.html).
Knowing it lets a source skip whole regions and days that a query cannot need. Digest files
(``CloudTrail-Digest``) and Insights events (``CloudTrail-Insight``) hold no API calls and are skipped.
"""

from __future__ import annotations

from datetime import date, timedelta

from ..query import Query

NON_EVENT_DIRS = frozenset({"CloudTrail-Digest", "CloudTrail-Insight"})
LOG_SUFFIXES = (".json", ".json.gz")


def is_log_file(name: str) -> bool:
    return name.endswith(LOG_SUFFIXES) and "_CloudTrail-Digest_" not in name and "_CloudTrail-Insight_" not in name


def days(query: Query) -> list[date]:
    """The day folders a window needs: one day before (events near midnight are delivered
    under the day they happened, in UTC) through one day after the end (late delivery)."""
    first = query.start.date() - timedelta(days=1)
    last = query.end.date() + timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def keep_dir(parts: tuple[str, ...], query: Query) -> bool:
    """Whether a folder (its path components below the root) may hold events the query needs.

    Only folders recognisably inside a ``CloudTrail/<region>/YYYY/MM/DD`` tree are pruned; any
    other layout is read in full.
    """
    if parts and parts[-1] in NON_EVENT_DIRS:
        return False
    try:
        at = len(parts) - 1 - parts[::-1].index("CloudTrail")
    except ValueError:
        return True
    below = parts[at + 1 :]
    if not below:
        return True
    if query.regions and below[0] not in query.regions:
        return False
    numbers = below[1:4]
    if not all(n.isdigit() for n in numbers):
        return True
    wanted = days(query)
    low, high = wanted[0], wanted[-1]
    if len(numbers) == 1:
        return low.year <= int(numbers[0]) <= high.year
    if len(numbers) == 2:
        month = (int(numbers[0]), int(numbers[1]))
        return (low.year, low.month) <= month <= (high.year, high.month)
    if len(numbers) == 3:
        try:
            day = date(int(numbers[0]), int(numbers[1]), int(numbers[2]))
        except ValueError:
            return True
        return low <= day <= high
    return True
