"""A fake GitHub Actions OIDC token endpoint on 127.0.0.1.

In a workflow with ``permissions: id-token: write`` the runner exports
``ACTIONS_ID_TOKEN_REQUEST_URL`` (already carrying a query string) and
``ACTIONS_ID_TOKEN_REQUEST_TOKEN``; a client appends ``&audience=<aud>`` and sends
``Authorization: bearer <request token>``, getting back ``{"value": "<JWT>"}``.  The
Action exchanges that JWT with STS ``AssumeRoleWithWebIdentity``, so the test double
issues a real, decodable JWT with GitHub's claims; it is HS256-signed with a per-server
secret (stdlib has no RSA), which is enough because moto's STS does not verify web
identity tokens at all -- tests that care about the claims verify them with
``FakeOIDCProvider.decode``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ._loopback import LoopbackServer

ISSUER = "https://token.actions.githubusercontent.com"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclasses.dataclass(frozen=True)
class TokenRequest:
    """One token request: the audience asked for (None when omitted), whether the bearer
    token was right, and the HTTP status answered."""

    time: float
    audience: str | None
    authorized: bool
    status: int


class FakeOIDCProvider(LoopbackServer):
    """GitHub Actions' ID-token endpoint on a free loopback port.

    Usage::

        with FakeOIDCProvider(repository="o/r") as oidc:
            monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", oidc.request_url)
            monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", oidc.request_token)
            ...  # code under test fetches a token for audience sts.amazonaws.com
            assert oidc.audiences == ["sts.amazonaws.com"]

    Claims follow GitHub's: ``iss``, ``aud`` (the requested audience; without one GitHub
    uses the repository owner's URL), ``sub`` (``repo:o/r:pull_request`` by default),
    ``iat``/``nbf``/``exp``, ``jti`` and the repository/ref/sha/run claims; ``claims``
    adds or overrides any of them.
    """

    thread_prefix = "fake-oidc"

    def __init__(
        self,
        *,
        repository: str = "o/r",
        subject: str | None = None,
        request_token: str | None = None,
        lifetime: int = 300,
        claims: Mapping[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.repository = repository
        self.subject = subject or f"repo:{repository}:pull_request"
        self.request_token = request_token or secrets.token_hex(16)
        self.lifetime = lifetime
        self.claims: dict[str, Any] = dict(claims or {})
        self.secret = secrets.token_bytes(32)
        self.requests: list[TokenRequest] = []
        self.issued: list[str] = []
        self._lock = threading.Lock()
        self._bind(_make_handler(self))

    # -- lifecycle ---------------------------------------------------------------

    @property
    def request_url(self) -> str:
        """The ``ACTIONS_ID_TOKEN_REQUEST_URL`` value: like the runner's, it already has a
        query, so clients must append ``&audience=`` (not ``?audience=``)."""
        return f"{self.url}/_apis/distributedtask/idtoken?api-version=2.0"

    def env(self) -> dict[str, str]:
        return {
            "ACTIONS_ID_TOKEN_REQUEST_URL": self.request_url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token,
        }

    @property
    def audiences(self) -> list[str | None]:
        """Audiences of the successfully answered requests, in order."""
        with self._lock:
            return [r.audience for r in self.requests if r.status == 200]

    # -- tokens ------------------------------------------------------------------

    def make_claims(self, audience: str | None) -> dict[str, Any]:
        now = int(time.time())
        owner = self.repository.split("/", 1)[0]
        claims: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "sub": self.subject,
            "aud": audience or f"https://github.com/{owner}",
            "ref": "refs/pull/1/merge",
            "sha": "0" * 40,
            "repository": self.repository,
            "repository_owner": owner,
            "run_id": "1",
            "run_attempt": "1",
            "actor": "octocat",
            "workflow": "policy drift",
            "event_name": "pull_request",
            "ref_type": "branch",
            "runner_environment": "github-hosted",
            "iss": ISSUER,
            "nbf": now - 5,
            "iat": now,
            "exp": now + self.lifetime,
        }
        claims.update(self.claims)
        return claims

    def issue(self, audience: str | None) -> str:
        """A compact HS256 JWT for ``audience`` (also usable directly, without HTTP)."""
        header = {"typ": "JWT", "alg": "HS256", "kid": "fake-oidc"}
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(
                json.dumps(self.make_claims(audience), separators=(",", ":")).encode()
            )
        )
        sig = hmac.new(self.secret, signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{_b64url(sig)}"
        with self._lock:
            self.issued.append(token)
        return token

    def decode(
        self, token: str, *, audience: str | None = None, verify: bool = True
    ) -> dict[str, Any]:
        """The claims of a token this provider issued; checks signature, expiry and
        (if given) audience, raising ValueError, as a relying party would."""
        try:
            head_b64, body_b64, sig_b64 = token.split(".")
        except ValueError:
            raise ValueError("not a compact JWT") from None
        claims: dict[str, Any] = json.loads(_unb64url(body_b64))
        if verify:
            expected = hmac.new(
                self.secret, f"{head_b64}.{body_b64}".encode(), hashlib.sha256
            ).digest()
            if not hmac.compare_digest(expected, _unb64url(sig_b64)):
                raise ValueError("bad signature")
            if claims.get("exp", 0) < time.time():
                raise ValueError("expired")
            if claims.get("iss") != ISSUER:
                raise ValueError("wrong issuer")
        if audience is not None and claims.get("aud") != audience:
            raise ValueError(f"audience {claims.get('aud')!r} != {audience!r}")
        return claims

    def handle(
        self, method: str, target: str, authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        audience = query.get("audience", [None])[-1]
        scheme, _, presented = (authorization or "").partition(" ")
        authorized = scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), self.request_token.encode()
        )
        if method != "GET" or parts.path != urlsplit(self.request_url).path:
            status, payload = 404, {"message": "Not Found"}
        elif not authorized:
            status, payload = (
                401,
                {"message": "Unauthorized: invalid or missing bearer token"},
            )
        else:
            status, payload = 200, {"value": self.issue(audience)}
        with self._lock:
            self.requests.append(
                TokenRequest(
                    time=time.time(),
                    audience=audience,
                    authorized=authorized,
                    status=status,
                )
            )
        return status, payload


def _make_handler(fake: FakeOIDCProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status, payload = fake.handle(
                self.command, self.path, self.headers.get("Authorization")
            )
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _dispatch
        do_POST = _dispatch

    return Handler
