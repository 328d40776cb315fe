"""A recording HTTP proxy on 127.0.0.1 in front of another loopback server (moto).

Tests point ``AWS_ENDPOINT_URL`` at the proxy to see exactly which requests a CLI process made
(which S3 keys it fetched, which prefixes it listed), and may rewrite responses to exercise what
moto does not do (Athena's ``GetQueryResults`` never pages in moto; ``athena_pages`` does).
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass(frozen=True)
class Seen:
    method: str
    path: str  # percent-decoded
    query: dict[str, list[str]]
    target: str  # X-Amz-Target for JSON protocols, '' otherwise
    body: bytes
    authorization: str = ""  # the SigV4 header: says which access key signed the request


# (request seen, upstream status, upstream body) -> body to return
Rewrite = Callable[[Seen, int, bytes], bytes]


class RecordingProxy:
    def __init__(self, upstream: str, rewrite: Rewrite | None = None) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.rewrite = rewrite
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def clear(self) -> None:
        with self._lock:
            self.seen.clear()

    def requests(self, method: str | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if method is None or s.method == method]

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                seen = Seen(self.command, unquote(parts.path), parse_qs(parts.query, keep_blank_values=True),
                            self.headers.get("X-Amz-Target", ""), body, self.headers.get("Authorization", ""))
                with proxy._lock:
                    proxy.seen.append(seen)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                headers["Host"] = self.headers.get("Host", "")
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    out = proxy.rewrite(seen, response.status, data) if proxy.rewrite else data
                    self.send_response(response.status)
                    for key, value in response.getheaders():
                        if key.lower() not in HOP_HEADERS:
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(out)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        return Handler


def athena_pages(size: int) -> Rewrite:
    """Make ``GetQueryResults`` page ``size`` rows at a time with a ``NextToken`` (the row offset),
    as Athena does (1000 rows a page there); moto returns every row at once."""

    def rewrite(seen: Seen, status: int, data: bytes) -> bytes:
        if status != 200 or not seen.target.endswith(".GetQueryResults"):
            return data
        request = json.loads(seen.body or b"{}")
        start = int(request.get("NextToken") or 0)
        limit = min(size, int(request.get("MaxResults") or size))
        result = json.loads(data)
        rows = result["ResultSet"]["Rows"]
        result["ResultSet"]["Rows"] = rows[start:start + limit]
        if start + limit < len(rows):
            result["NextToken"] = str(start + limit)
        else:
            result.pop("NextToken", None)
        return json.dumps(result).encode()

    return rewrite
