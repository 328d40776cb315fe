"""The loopback HTTP server lifecycle that every test double shares.

A double subclasses ``LoopbackServer``, calls ``super().__init__(host, port)`` first (it
refuses any address but loopback) and ``self._bind(handler)`` once its own state is set
up (the handler class usually closes over the double).  The server is then served from
a daemon thread between ``start()`` and ``stop()``, or within a ``with`` block.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar, Self

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


class LoopbackServer:
    """A ``ThreadingHTTPServer`` on 127.0.0.1 and its serving thread."""

    #: The serving thread is named ``f"{thread_prefix}-{port}"``.
    thread_prefix: ClassVar[str] = "fake-loopback"

    def __init__(self, host: str, port: int) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError("the fake only binds to loopback")
        self._address = (host, port)

    def _bind(self, handler: type[BaseHTTPRequestHandler]) -> None:
        """Bind the server (port 0: a free one); nothing is served before ``start()``."""
        self._server = ThreadingHTTPServer(self._address, handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"{self.thread_prefix}-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
