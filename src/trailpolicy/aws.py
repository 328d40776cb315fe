"""boto3 sessions: the caller's base credentials, and a session per other account via --role-name.

Credentials come from boto3's standard chain (environment, profile, web identity token file — the
way OIDC credentials arrive in CI). Endpoints come from boto3 too, so ``AWS_ENDPOINT_URL`` points
every client at a test double. Failures here are ``SourceError`` (exit 1) naming what failed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import boto3
import botocore.exceptions
from botocore.config import Config

from .errors import SourceError

SESSION_NAME = "trailpolicy"


@dataclass(frozen=True)
class Caller:
    account: str
    arn: str
    partition: str


class Sessions:
    """The base session and, lazily and once each, a session per account reached via a role."""

    def __init__(self, region: str | None = None, profile: str | None = None) -> None:
        try:
            self.base = boto3.Session(region_name=region, profile_name=profile)
        except botocore.exceptions.ProfileNotFound as exc:
            raise SourceError(str(exc)) from None
        self._caller: Caller | None = None
        self._by_account: dict[str, boto3.Session] = {}
        self._lock = threading.Lock()

    @property
    def region(self) -> str | None:
        return self.base.region_name

    def client(self, service: str, region: str | None = None, session: boto3.Session | None = None,
               config: Config | None = None):
        return (session or self.base).client(service, region_name=region or self.region, config=config)

    def caller(self) -> Caller:
        """Who the base credentials are (STS GetCallerIdentity), asked once."""
        if self._caller is None:
            try:
                identity = self.client("sts").get_caller_identity()
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                raise SourceError(f"cannot tell who the AWS credentials belong to (sts:GetCallerIdentity): {exc}") from None
            arn = identity["Arn"]
            self._caller = Caller(account=identity["Account"], arn=arn, partition=arn.split(":")[1])
        return self._caller

    def for_account(self, account: str, partition: str, role_name: str | None) -> boto3.Session:
        """The session that reads ``account``: the base one for the caller's own account or when
        no role name is given, otherwise one from assuming ``role/<role_name>`` there."""
        if role_name is None or account == self.caller().account:
            return self.base
        with self._lock:
            found = self._by_account.get(account)
            if found is not None:
                return found
            role_arn = f"arn:{partition}:iam::{account}:role/{role_name}"
            try:
                credentials = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)["Credentials"]
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                raise SourceError(f"cannot assume {role_arn}: {exc}") from None
            session = boto3.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                region_name=self.region,
            )
            self._by_account[account] = session
            return session
