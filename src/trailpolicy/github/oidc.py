"""AWS credentials from the job's OIDC token, without any long-lived secret.

With ``permissions: id-token: write`` the runner gives a job ``ACTIONS_ID_TOKEN_REQUEST_URL`` and
``ACTIONS_ID_TOKEN_REQUEST_TOKEN``; a GET on the URL (plus ``&audience=...``) with that bearer
token answers ``{"value": "<JWT>"}``, a token signed by token.actions.githubusercontent.com.
STS ``AssumeRoleWithWebIdentity`` trades it for temporary credentials of a role whose trust
policy accepts that issuer, audience and ``sub``. The call is unsigned, so the job needs no AWS
credentials before it; boto3 honours ``AWS_ENDPOINT_URL`` like every other call.

Every secret obtained here is masked in the log before anything else happens with it.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

import boto3
import botocore.exceptions

from ..errors import SourceError, UsageError

REQUEST_URL = "ACTIONS_ID_TOKEN_REQUEST_URL"
REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
DEFAULT_AUDIENCE = "sts.amazonaws.com"
_ATTEMPTS = 3
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+\Z")


def available(environ: dict[str, str]) -> bool:
    """True when the job may request an OIDC token (``id-token: write``, not a fork PR)."""
    return bool(environ.get(REQUEST_URL) and environ.get(REQUEST_TOKEN))


def fetch_id_token(environ: dict[str, str], audience: str, mask: Callable[[str], None]) -> str:
    """The job's OIDC token for ``audience``; SourceError (never showing a token) when refused."""
    url = environ[REQUEST_URL]
    url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"audience": audience})
    request = urllib.request.Request(url, headers={
        "Authorization": f"bearer {environ[REQUEST_TOKEN]}",
        "Accept": "application/json; api-version=2.0",
    })
    problem = ""
    for attempt in range(_ATTEMPTS):
        if attempt:
            time.sleep(attempt)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:
                break
            continue
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            problem = type(exc).__name__
            continue
        token = body.get("value") if isinstance(body, dict) else None
        if isinstance(token, str) and token:
            mask(token)
            return token
        problem = "the answer held no token"
        break
    raise SourceError(f"could not get the job's OIDC token ({problem})")


def session_name(environ: dict[str, str]) -> str:
    """``trailpolicy-<run id>-<attempt>``: shows up in the role's CloudTrail events, at most 64 chars."""
    run = re.sub(r"[^\w+=,.@-]", "", environ.get("GITHUB_RUN_ID", "local"))
    attempt = re.sub(r"[^\w+=,.@-]", "", environ.get("GITHUB_RUN_ATTEMPT", "1"))
    return f"trailpolicy-{run}-{attempt}"[:64]


def assume_role(role_arn: str, token: str, region: str, name: str, mask: Callable[[str], None]) -> dict[str, str]:
    """Environment variables holding the role's temporary credentials (masked before returning)."""
    if not _ROLE_ARN.match(role_arn):
        raise UsageError(f"input role-to-assume {role_arn!r} is not an IAM role ARN")
    sts = boto3.client("sts", region_name=region)
    try:
        answer = sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName=name,
                                                   WebIdentityToken=token)
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        raise SourceError(f"STS refused to let this job assume {role_arn}: "
                          f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise SourceError(f"could not reach STS to assume {role_arn}: {exc}") from None
    credentials = answer["Credentials"]
    for secret in (credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]):
        mask(secret)
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }
