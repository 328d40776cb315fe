"""Loopback test doubles that speak the real wire protocols.

Each double is a small stdlib HTTP server bound to 127.0.0.1 on a free port, so the
production code under test runs unmodified: boto3 reaches the fake CloudTrail through
``endpoint_url`` / ``AWS_ENDPOINT_URL``, PyGithub reaches the fake GitHub through
``base_url``, and the Action's OIDC client reaches the fake token endpoint through
``ACTIONS_ID_TOKEN_REQUEST_URL``.  Nothing here talks to any other address.

The doubles are plain classes usable as context managers, so a conftest can wrap them
in fixtures of whatever scope it needs.  ``MotoServer`` is imported lazily (moto is a
test extra and slow to import) -- ``from <this package>.moto import MotoServer``.
"""

from .cloudtrail import FakeCloudTrail, LookupRequest, lookup_username
from .github import FakeGitHub, GitHubRequest
from .oidc import FakeOIDCProvider, TokenRequest

__all__ = [
    "FakeCloudTrail",
    "FakeGitHub",
    "FakeOIDCProvider",
    "GitHubRequest",
    "LookupRequest",
    "TokenRequest",
    "lookup_username",
]
