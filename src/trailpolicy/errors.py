"""The two ways a run can fail, each with its own exit status (DESIGN.md, "Exit status")."""


class UsageError(Exception):
    """Bad usage or bad input: exit 2, one clear line on stderr."""


class SourceError(Exception):
    """Could not finish (AWS or network failure after retries, a runner file that cannot be
    written): exit 1, says what failed."""
