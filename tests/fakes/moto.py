"""moto in server mode on 127.0.0.1, in this process.

Server mode (rather than ``mock_aws``) because the code under test is also run as a
subprocess that can only be pointed at a URL; in-process (``ThreadedMotoServer`` rather
than a ``moto_server`` subprocess) because the fake CloudTrail resolves the account of a
temporary key by reading moto's backends directly (see
``tests.fakes.cloudtrail.moto_account_for_key``), which only works in the same process.
"""

from __future__ import annotations

import urllib.request
from typing import Self

from moto.server import ThreadedMotoServer


class MotoServer:
    """Start/stop a ``ThreadedMotoServer`` on a free loopback port and reset it.

    Usage::

        with MotoServer() as moto:
            sts = boto3.client("sts", endpoint_url=moto.url, region_name="us-east-1")
            ...
            moto.reset()  # between tests, when the server is shared (session fixture)

    ``ThreadedMotoServer(port=0)`` binds an ephemeral port; moto 5 exposes the bound
    address through ``get_host_and_port()`` (it reads ``server_address`` of the werkzeug
    server), which is only valid after ``start()``.
    """

    def __init__(self, *, verbose: bool = False) -> None:
        self._server = ThreadedMotoServer(
            ip_address="127.0.0.1", port=0, verbose=verbose
        )
        self._started = False
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def url(self) -> str:
        if not self._started:
            raise RuntimeError("MotoServer not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        if not self._started:
            self._server.start()
            self.host, self.port = self._server.get_host_and_port()
            self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self._server.stop()
            self._started = False

    def reset(self) -> None:
        """Drop every backend's state (moto's own ``POST /moto-api/reset``), so tests that
        share one server do not see each other's roles, keys or buckets."""
        req = urllib.request.Request(
            f"{self.url}/moto-api/reset", data=b"", method="POST"
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def env(self) -> dict[str, str]:
        """Environment for a subprocess that should reach moto for every AWS service."""
        return {"AWS_ENDPOINT_URL": self.url}

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
