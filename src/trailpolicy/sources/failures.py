"""How AWS failures inside a source surface: bad input (exit 2) or could not finish (exit 1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import botocore.exceptions

from ..errors import SourceError, UsageError


@contextmanager
def aws_call(what: str, bad_input: dict[str, str] | None = None) -> Iterator[None]:
    """Turn a botocore failure into ``SourceError("<what>: ...")``, or into ``UsageError`` with the
    given message when its error code says the user named something that does not exist."""
    try:
        yield
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if bad_input and code in bad_input:
            raise UsageError(bad_input[code]) from None
        raise SourceError(f"{what}: {exc}") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise SourceError(f"{what}: {exc}") from None
