"""One sticky comment per pull request and baseline, updated in place on every run.

The comment is found again by a hidden HTML marker naming the baseline (with a hash of its
path), so a workflow that guards two baselines keeps two comments, and re-runs never add a third.
Only a comment written by the token's own user (``github-actions[bot]`` for the job's
``GITHUB_TOKEN``) is taken for ours: anyone can post a comment that starts with the marker, and
adopting it would either overwrite a stranger's comment or, where GitHub refuses that, leave the
pull request without a report. GitHub's REST API is reached with PyGithub at ``GITHUB_API_URL``
(GitHub Enterprise Server and the tests' fake alike).

Publishing is best effort by design: the report is already in the step summary and the output
directory when this runs, so a refusal (403 on a fork's read-only token, 5xx) is reported to the
caller as ``CommentError`` and never ends the run.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import github
import requests
from urllib3.util.retry import Retry

from ..render.markdown import GITHUB_COMMENT_LIMIT

_TIMEOUT = 30
# The user that the job's GITHUB_TOKEN writes as.
DEFAULT_AUTHOR = "github-actions[bot]"


class CommentError(Exception):
    """GitHub did not accept the comment; the message says why, without any token."""


@dataclass(frozen=True)
class Published:
    action: str  # created | updated
    url: str


def marker(baseline: str) -> str:
    """The hidden line that identifies this action's comment for ``baseline``.

    The path is normalised first (``./a.json`` and ``a.json`` are one baseline). Its readable
    form keeps only characters that cannot end the HTML comment early, which can make two paths
    read alike (``a b.json``, ``a_b.json``); a hash of the normalised path tells them apart.
    """
    if not baseline:
        return "<!-- trailpolicy:comment baseline=(none) -->"
    path = posixpath.normpath(baseline)
    name = re.sub(r"[^\w./@+=()-]", "_", path).replace("--", "-_")
    digest = hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"<!-- trailpolicy:comment baseline={name} id={digest} -->"


def body_limit(baseline: str) -> int:
    """The longest body ``upsert`` accepts for ``baseline`` (GitHub's limit less the marker line)."""
    return GITHUB_COMMENT_LIMIT - len(marker(baseline)) - 1


def is_ours(comment, tag: str, author: str = DEFAULT_AUTHOR) -> bool:
    """Whether ``comment`` is this action's comment: it starts with ``tag`` and ``author`` wrote it.

    For the default author the account type must be Bot as well, which no person can sign up as.
    """
    user = comment.user
    if user is None or user.login != author or (author == DEFAULT_AUTHOR and user.type != "Bot"):
        return False
    return bool(comment.body) and comment.body.startswith(tag)


def upsert(*, token: str, api_url: str, repository: str, number: int, baseline: str, body: str,
           create: bool = True, author: str = DEFAULT_AUTHOR) -> Published | None:
    """Update this baseline's comment on PR ``number``, or create it when ``create``.

    ``author`` is the login the token writes as; comments by anyone else are never touched.
    Returns None when there was no comment and ``create`` is False (nothing to say yet).
    """
    tag = marker(baseline)
    text = f"{tag}\n{body}"
    if len(text) > GITHUB_COMMENT_LIMIT:
        raise CommentError(f"the comment is {len(text)} characters, more than GitHub's {GITHUB_COMMENT_LIMIT}")
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CommentError(f"GITHUB_API_URL {api_url!r} is not an http(s) URL")
    try:
        client = github.Github(
            auth=github.Auth.Token(token), base_url=api_url.rstrip("/"), timeout=_TIMEOUT, lazy=True,
            # Reads are retried on a gateway error; writes are not, so that a lost answer to a POST
            # never becomes a second comment.
            retry=Retry(total=3, backoff_factor=0.5, status_forcelist=(502, 503, 504)),
        )
    except Exception as exc:  # PyGithub checks the URL with asserts and attribute access
        raise CommentError(f"GITHUB_API_URL {api_url!r} cannot be used: {type(exc).__name__}") from None
    try:
        issue = client.get_repo(repository).get_issue(number)
        existing = next((c for c in issue.get_comments() if is_ours(c, tag, author)), None)
        if existing is not None:
            if existing.body != text:
                existing.edit(text)
            return Published("updated", existing.html_url)
        if not create:
            return None
        created = issue.create_comment(text)
        return Published("created", created.html_url)
    except github.GithubException as exc:
        message = exc.data.get("message") if isinstance(exc.data, dict) else None
        raise CommentError(f"GitHub answered {exc.status}" + (f": {message}" if message else "")) from None
    except requests.RequestException as exc:  # refused, timed out, retries exhausted
        raise CommentError(f"could not reach GitHub at {api_url}: {type(exc).__name__}") from None
    except Exception as exc:  # an answer PyGithub cannot read; the report is published elsewhere
        raise CommentError(f"unexpected answer from GitHub at {api_url}: {type(exc).__name__}") from None
    finally:
        client.close()
