"""A fake GitHub REST API on 127.0.0.1 for the issue-comment endpoints.

The Action posts one sticky drift comment on the pull request and edits it on later
runs; that logic (find our previous comment among possibly many, paginated; edit or
create; cope with a read-only fork token) is exercised against this server through
PyGithub's ``base_url`` (``GITHUB_API_URL`` in the Action), so PyGithub's own paging,
URL handling and error mapping are part of what is tested.

Served (as GitHub does, JSON, absolute ``url`` fields pointing back at this server,
because PyGithub follows the ``url`` of a returned object rather than rebuilding it):

* ``GET /repos/{o}/{r}``
* ``GET /repos/{o}/{r}/issues/{n}``, ``GET /repos/{o}/{r}/pulls/{n}``
* ``GET /repos/{o}/{r}/issues/{n}/comments`` (``per_page`` default 30, max 100, ``page``,
  ``since``; ``Link`` header with next/last/first/prev)
* ``POST /repos/{o}/{r}/issues/{n}/comments`` (201)
* ``GET|PATCH|DELETE /repos/{o}/{r}/issues/comments/{id}`` (200, 200, 204); editing or
  deleting a comment written by anyone but the token's own bot user is 403, as GitHub refuses
  an integration token the comments of others

Anything else is 404 ``Not Found``, like the real API for a path it does not have.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

from ._loopback import LoopbackServer

BOT_LOGIN = "github-actions[bot]"
BOT_ID = 41898282  # the id GitHub gives the github-actions[bot] user
DOCS = "https://docs.github.com/rest"

_REPO_PATH = r"^/repos/([^/]+/[^/]+)"  # captures "owner/name"
_ISSUE_COMMENTS_PATH = re.compile(_REPO_PATH + r"/issues/(\d+)/comments$")
_COMMENT_PATH = re.compile(_REPO_PATH + r"/issues/comments/(\d+)$")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass
class Comment:
    """An issue comment as stored; ``to_json`` renders GitHub's shape."""

    id: int
    repo: str
    issue_number: int
    body: str
    user_login: str
    user_id: int
    user_type: str
    created_at: float
    updated_at: float


@dataclasses.dataclass
class Issue:
    """An issue or, with ``is_pull`` set, a pull request (GitHub models PRs as issues)."""

    repo: str
    number: int
    title: str
    is_pull: bool
    state: str = "open"
    user_login: str = "octocat"
    head_ref: str = "feature"
    head_sha: str = "0" * 40
    base_ref: str = "main"
    base_sha: str = "1" * 40


@dataclasses.dataclass(frozen=True)
class GitHubRequest:
    """One request as seen: method, path, query, the token presented, status, JSON body."""

    time: float
    method: str
    path: str
    query: dict[str, str]
    token: str | None
    status: int
    body: Any = None

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "PATCH", "PUT", "DELETE")


class _HttpError(Exception):
    def __init__(self, status: int, message: str, doc: str = DOCS) -> None:
        super().__init__(message)
        self.status = status
        self.payload = {
            "message": message,
            "documentation_url": doc,
            "status": str(status),
        }


class FakeGitHub(LoopbackServer):
    """Issue-comment endpoints of the GitHub REST API on a free loopback port.

    Usage::

        with FakeGitHub(token="ghs_test") as gh:
            gh.add_pull("o/r", 7)
            client = Github(base_url=gh.url, auth=Auth.Token("ghs_test"))
            client.get_repo("o/r").get_pull(7).create_issue_comment("hi")
            assert gh.comments("o/r", 7)[0].body == "hi"

    Tokens: ``tokens`` maps each accepted token to "write" or "read"; ``token`` /
    ``read_only`` set the first one.  Any other or missing token is 401 ``Bad
    credentials``; a "read" token gets 403 ``Resource not accessible by integration`` on
    writes, as a fork pull request's ``GITHUB_TOKEN`` does.  ``fail_writes`` answers the
    next N writes (or all, with -1) with ``write_failure_status`` (default 502).
    Every accepted token acts as ``bot_login``: the comments it creates are that user's, and a
    PATCH or DELETE of anyone else's comment is 403.

    ``url`` is the API root, for ``Github(base_url=...)`` and ``GITHUB_API_URL``.
    """

    thread_prefix = "fake-github"

    def __init__(
        self,
        *,
        token: str = "ghs_testtoken",
        read_only: bool = False,
        bot_login: str = BOT_LOGIN,
        fail_writes: int = 0,
        write_failure_status: int = 502,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.tokens: dict[str, str] = {token: "read" if read_only else "write"}
        self.bot_login = bot_login
        self.fail_writes = fail_writes
        self.write_failure_status = write_failure_status
        self.requests: list[GitHubRequest] = []
        self._lock = threading.RLock()
        self._issues: dict[tuple[str, int], Issue] = {}
        self._repos: dict[str, int] = {}
        self._comments: dict[int, Comment] = {}
        self._ids = itertools.count(1_000_001)
        self._bind(_make_handler(self))

    # -- data --------------------------------------------------------------------

    def set_read_only(self, read_only: bool = True, token: str | None = None) -> None:
        """Flip a token (default: every token) between write and read-only."""
        with self._lock:
            for t in [token] if token else list(self.tokens):
                self.tokens[t] = "read" if read_only else "write"

    def add_repo(self, full_name: str) -> None:
        with self._lock:
            self._repos.setdefault(full_name, next(self._ids))

    def add_issue(
        self, repo: str, number: int, *, title: str = "An issue", user: str = "octocat"
    ) -> Issue:
        return self._add(
            Issue(repo=repo, number=number, title=title, is_pull=False, user_login=user)
        )

    def add_pull(
        self,
        repo: str,
        number: int,
        *,
        title: str = "A change",
        user: str = "octocat",
        head_ref: str = "feature",
        head_sha: str = "0" * 40,
        base_ref: str = "main",
    ) -> Issue:
        return self._add(
            Issue(
                repo=repo,
                number=number,
                title=title,
                is_pull=True,
                user_login=user,
                head_ref=head_ref,
                head_sha=head_sha,
                base_ref=base_ref,
            )
        )

    def _add(self, issue: Issue) -> Issue:
        with self._lock:
            self.add_repo(issue.repo)
            self._issues[(issue.repo, issue.number)] = issue
        return issue

    def add_comment(
        self,
        repo: str,
        number: int,
        body: str,
        *,
        user: str | None = None,
        created_at: float | None = None,
    ) -> Comment:
        """Seed a comment, e.g. an earlier sticky comment or a human's comment."""
        login = user or self.bot_login
        with self._lock:
            if (repo, number) not in self._issues:
                raise KeyError(f"no issue {repo}#{number}; add_issue/add_pull first")
            now = created_at if created_at is not None else time.time()
            comment = Comment(
                id=next(self._ids),
                repo=repo,
                issue_number=number,
                body=body,
                user_login=login,
                user_id=BOT_ID if login == BOT_LOGIN else 1000 + len(login),
                user_type="Bot" if login.endswith("[bot]") else "User",
                created_at=now,
                updated_at=now,
            )
            self._comments[comment.id] = comment
        return comment

    def comments(self, repo: str, number: int) -> list[Comment]:
        """The comments on an issue/PR, oldest first (GitHub's order)."""
        with self._lock:
            return sorted(
                (
                    c
                    for c in self._comments.values()
                    if (c.repo, c.issue_number) == (repo, number)
                ),
                key=lambda c: (c.created_at, c.id),
            )

    def writes(self) -> list[GitHubRequest]:
        with self._lock:
            return [r for r in self.requests if r.is_write]

    # -- JSON shapes (fields PyGithub reads) -------------------------------------

    def _user_json(
        self, login: str, user_id: int | None = None, kind: str | None = None
    ) -> dict[str, Any]:
        kind = kind or ("Bot" if login.endswith("[bot]") else "User")
        uid = (
            user_id
            if user_id is not None
            else (BOT_ID if login == BOT_LOGIN else 1000 + len(login))
        )
        return {
            "login": login,
            "id": uid,
            "node_id": f"U_{uid}",
            "type": kind,
            "site_admin": False,
            "url": f"{self.url}/users/{login}",
            "html_url": f"https://github.com/{login}",
        }

    def _repo_json(self, full_name: str) -> dict[str, Any]:
        owner, name = full_name.split("/", 1)
        return {
            "id": self._repos[full_name],
            "node_id": f"R_{self._repos[full_name]}",
            "name": name,
            "full_name": full_name,
            "owner": self._user_json(owner, kind="Organization"),
            "private": False,
            "fork": False,
            "default_branch": "main",
            "url": f"{self.url}/repos/{full_name}",
            "html_url": f"https://github.com/{full_name}",
            "issues_url": f"{self.url}/repos/{full_name}/issues{{/number}}",
            "pulls_url": f"{self.url}/repos/{full_name}/pulls{{/number}}",
            "permissions": {"admin": False, "push": True, "pull": True},
        }

    def _issue_json(self, issue: Issue) -> dict[str, Any]:
        base = f"{self.url}/repos/{issue.repo}"
        count = len(self.comments(issue.repo, issue.number))
        out: dict[str, Any] = {
            "id": 5_000_000 + issue.number,
            "node_id": f"I_{issue.number}",
            "number": issue.number,
            "title": issue.title,
            "body": "",
            "state": issue.state,
            "locked": False,
            "user": self._user_json(issue.user_login),
            "labels": [],
            "assignees": [],
            "comments": count,
            "url": f"{base}/issues/{issue.number}",
            "repository_url": base,
            "comments_url": f"{base}/issues/{issue.number}/comments",
            "html_url": f"https://github.com/{issue.repo}/{'pull' if issue.is_pull else 'issues'}/{issue.number}",
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
        }
        if issue.is_pull:
            out["pull_request"] = {
                "url": f"{base}/pulls/{issue.number}",
                "html_url": out["html_url"],
            }
        return out

    def _pull_json(self, issue: Issue) -> dict[str, Any]:
        base = f"{self.url}/repos/{issue.repo}"
        repo = self._repo_json(issue.repo)
        return {
            "id": 7_000_000 + issue.number,
            "node_id": f"PR_{issue.number}",
            "number": issue.number,
            "title": issue.title,
            "body": "",
            "state": issue.state,
            "draft": False,
            "merged": False,
            "user": self._user_json(issue.user_login),
            "url": f"{base}/pulls/{issue.number}",
            "issue_url": f"{base}/issues/{issue.number}",
            "comments_url": f"{base}/issues/{issue.number}/comments",
            "html_url": f"https://github.com/{issue.repo}/pull/{issue.number}",
            "head": {
                "ref": issue.head_ref,
                "sha": issue.head_sha,
                "label": f"x:{issue.head_ref}",
                "repo": repo,
            },
            "base": {
                "ref": issue.base_ref,
                "sha": issue.base_sha,
                "label": f"x:{issue.base_ref}",
                "repo": repo,
            },
            "comments": len(self.comments(issue.repo, issue.number)),
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
        }

    def _comment_json(self, c: Comment) -> dict[str, Any]:
        base = f"{self.url}/repos/{c.repo}"
        return {
            "id": c.id,
            "node_id": f"IC_{c.id}",
            "url": f"{base}/issues/comments/{c.id}",
            "html_url": f"https://github.com/{c.repo}/pull/{c.issue_number}#issuecomment-{c.id}",
            "issue_url": f"{base}/issues/{c.issue_number}",
            "body": c.body,
            "user": self._user_json(c.user_login, c.user_id, c.user_type),
            "author_association": "NONE" if c.user_type == "Bot" else "MEMBER",
            "created_at": _iso(c.created_at),
            "updated_at": _iso(c.updated_at),
        }

    # -- routing -----------------------------------------------------------------

    _ROUTES: ClassVar[list[tuple[str, re.Pattern[str], str]]] = [
        ("GET", re.compile(_REPO_PATH + "$"), "_get_repo"),
        ("GET", re.compile(_REPO_PATH + r"/issues/(\d+)$"), "_get_issue"),
        ("GET", re.compile(_REPO_PATH + r"/pulls/(\d+)$"), "_get_pull"),
        ("GET", _ISSUE_COMMENTS_PATH, "_list_comments"),
        ("POST", _ISSUE_COMMENTS_PATH, "_create_comment"),
        ("GET", _COMMENT_PATH, "_get_comment"),
        ("PATCH", _COMMENT_PATH, "_edit_comment"),
        ("DELETE", _COMMENT_PATH, "_delete_comment"),
    ]

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """Route one request; returns (status, JSON payload or None, extra headers)."""
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        token = _bearer(headers.get("Authorization"))
        body: Any = None
        status, payload, extra = 500, None, {}
        try:
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise _HttpError(400, "Problems parsing JSON") from None
            with self._lock:
                scope = self.tokens.get(token or "")
            if scope is None:
                raise _HttpError(401, "Bad credentials")
            for m, rx, name in self._ROUTES:  # noqa: B007 -- the match found is used after the loop
                match = rx.match(path)
                if match and m == method:
                    break
            else:
                raise _HttpError(404, "Not Found")
            is_write = method in ("POST", "PATCH", "PUT", "DELETE")
            if is_write and scope != "write":
                raise _HttpError(403, "Resource not accessible by integration")
            if is_write and self.fail_writes:
                with self._lock:
                    if self.fail_writes > 0:
                        self.fail_writes -= 1
                raise _HttpError(self.write_failure_status, "Server Error")
            status, payload, extra = getattr(self, name)(
                *match.groups(), query=query, body=body
            )
        except _HttpError as err:
            status, payload = err.status, err.payload
        finally:
            with self._lock:
                self.requests.append(
                    GitHubRequest(
                        time=time.time(),
                        method=method,
                        path=path,
                        query=query,
                        token=token,
                        status=status,
                        body=body,
                    )
                )
        return status, payload, extra

    def _issue(self, repo: str, number: str) -> Issue:
        issue = self._issues.get((repo, int(number)))
        if issue is None:
            raise _HttpError(404, "Not Found")
        return issue

    def _comment(self, repo: str, comment_id: str) -> Comment:
        comment = self._comments.get(int(comment_id))
        if comment is None or comment.repo != repo:
            raise _HttpError(404, "Not Found")
        return comment

    def _own_comment(self, repo: str, comment_id: str) -> Comment:
        """A comment the token's user may change: its own, else 403."""
        comment = self._comment(repo, comment_id)
        if comment.user_login != self.bot_login:
            raise _HttpError(403, "Resource not accessible by integration")
        return comment

    def _get_repo(self, repo: str, **_: Any) -> tuple[int, Any, dict[str, str]]:
        if repo not in self._repos:
            raise _HttpError(404, "Not Found")
        return 200, self._repo_json(repo), {}

    def _get_issue(
        self, repo: str, number: str, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        return 200, self._issue_json(self._issue(repo, number)), {}

    def _get_pull(
        self, repo: str, number: str, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        issue = self._issue(repo, number)
        if not issue.is_pull:
            raise _HttpError(404, "Not Found")
        return 200, self._pull_json(issue), {}

    def _list_comments(
        self, repo: str, number: str, *, query: dict[str, str], **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        issue = self._issue(repo, number)
        try:
            per_page = min(max(int(query.get("per_page", 30)), 1), 100)
            page = max(int(query.get("page", 1)), 1)
        except ValueError:
            raise _HttpError(422, "Validation Failed") from None
        items = self.comments(issue.repo, issue.number)
        if "since" in query:
            since = datetime.fromisoformat(query["since"]).timestamp()
            items = [c for c in items if c.updated_at >= since]
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        return (
            200,
            [self._comment_json(c) for c in chunk],
            _link_header(
                f"{self.url}/repos/{repo}/issues/{issue.number}/comments",
                query,
                page,
                last,
                per_page,
            ),
        )

    def _create_comment(
        self, repo: str, number: str, *, body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        issue = self._issue(repo, number)
        text = _comment_text(body)
        comment = self.add_comment(issue.repo, issue.number, text)
        return (
            201,
            self._comment_json(comment),
            {"Location": self._comment_json(comment)["url"]},
        )

    def _get_comment(
        self, repo: str, comment_id: str, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        return 200, self._comment_json(self._comment(repo, comment_id)), {}

    def _edit_comment(
        self, repo: str, comment_id: str, *, body: Any, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        comment = self._own_comment(repo, comment_id)
        text = _comment_text(body)
        with self._lock:
            comment.body = text
            comment.updated_at = max(time.time(), comment.updated_at + 1e-6)
        return 200, self._comment_json(comment), {}

    def _delete_comment(
        self, repo: str, comment_id: str, **_: Any
    ) -> tuple[int, Any, dict[str, str]]:
        comment = self._own_comment(repo, comment_id)
        with self._lock:
            del self._comments[comment.id]
        return 204, None, {}


def _comment_text(body: Any) -> str:
    """The non-empty ``body`` string of a create/edit request, else 422 as GitHub answers."""
    text = body.get("body") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text:
        raise _HttpError(422, "Validation Failed")
    return text


def _bearer(value: str | None) -> str | None:
    """The token of ``Authorization: token X`` or ``Bearer X`` (GitHub accepts both)."""
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() in ("token", "bearer") and token.strip():
        return token.strip()
    return None


def _link_header(
    base: str, query: dict[str, str], page: int, last: int, per_page: int
) -> dict[str, str]:
    """GitHub's RFC 8288 ``Link`` header; PyGithub follows ``rel="next"`` verbatim."""
    if last <= 1:
        return {}

    def href(p: int) -> str:
        q = {k: v for k, v in query.items() if k not in ("page", "per_page")}
        q.update(per_page=str(per_page), page=str(p))
        return f"<{base}?{urlencode(q)}>"

    rels = []
    if page > 1:
        rels += [f'{href(page - 1)}; rel="prev"', f'{href(1)}; rel="first"']
    if page < last:
        rels += [f'{href(page + 1)}; rel="next"', f'{href(last)}; rel="last"']
    return {"Link": ", ".join(rels)} if rels else {}


def _make_handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = (
            True  # see the CloudTrail fake: avoids delayed-ACK stalls
        )

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, payload, extra = fake.handle(
                self.command, self.path, self.headers, raw
            )
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            if payload is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
            self.send_header("X-RateLimit-Limit", "5000")
            self.send_header("X-RateLimit-Remaining", "4999")
            self.send_header("X-RateLimit-Reset", str(int(time.time()) + 3600))
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = _dispatch
        do_POST = _dispatch
        do_PATCH = _dispatch
        do_PUT = _dispatch
        do_DELETE = _dispatch

    return Handler
