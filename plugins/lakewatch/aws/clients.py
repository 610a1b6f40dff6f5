"""Boto3 client factories.

Business logic never builds clients itself: it takes a ``ClientFactory`` (``factory("s3")``).
Outside Airflow the backend builds one (``lakewatch.backends.clients_for``); inside a DAG it is
built from the Amazon provider's hook for the ``aws_default`` connection
(``orchestration.runtime``), so the connection's ``endpoint_url`` extra decides where calls go,
the provider's documented way.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, Protocol

import boto3
from botocore.config import Config

from lakewatch.settings import Settings

ClientFactory = Callable[[str], Any]


def require(clients: ClientFactory | None, location: str) -> ClientFactory:
    """``clients``, or a clear error: ``location`` is on S3 and nothing can reach it."""
    if clients is None:
        raise ValueError(f"{location} is on S3: reading or writing it needs AWS clients")
    return clients


class AwsClients(Protocol):
    """A client factory that also says where it connects and with what credentials (for
    pyarrow's and DuckDB's own S3 readers): ``Boto3Clients``, or the Airflow hooks'."""

    def __call__(self, service: str) -> Any: ...

    def endpoint_url(self, service: str) -> str | None: ...

    def credentials(self) -> tuple[str, str, str | None]: ...


# The services the local emulator serves; everything else keeps AWS's own endpoint.
EMULATED_SERVICES = frozenset(
    {"s3", "sqs", "ssm", "iam", "sts", "sns", "logs", "glue", "securityhub", "events"}
)

RETRIES = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5)


class CachedClients:
    """Thread-safe, cached boto3 clients with lakewatch's retry policy (``RETRIES``): the
    emulated services at ``endpoint_url`` (AWS's own when None), ``endpoint_overrides``
    first. Built from an endpoint and a region, not ``Settings``, so the scorer function,
    which has only its environment, gets the same clients as the rest of lakewatch."""

    def __init__(
        self,
        region: str | None,
        endpoint_url: str | None = None,
        *,
        endpoint_overrides: dict[str, str] | None = None,
        emulator_credentials: bool = False,
    ):
        self._endpoint = endpoint_url
        self._overrides = dict(endpoint_overrides or {})
        self._emulator_credentials = emulator_credentials
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._session = boto3.session.Session(region_name=region)

    def __call__(self, service: str) -> Any:
        with self._lock:
            if service not in self._cache:
                self._cache[service] = self._session.client(service, **self._kwargs(service))
            return self._cache[service]

    def endpoint_url(self, service: str) -> str | None:
        """Where calls to ``service`` go (None: AWS's own endpoint)."""
        return self._kwargs(service).get("endpoint_url")

    def credentials(self) -> tuple[str, str, str | None]:
        """(access key, secret key, session token) these clients sign with."""
        kwargs = self._kwargs("s3")
        if "aws_access_key_id" in kwargs:
            return kwargs["aws_access_key_id"], kwargs["aws_secret_access_key"], None
        creds = self._session.get_credentials()
        if creds is None:
            raise RuntimeError("no AWS credentials found (environment, profile or role)")
        frozen = creds.get_frozen_credentials()
        return frozen.access_key, frozen.secret_key, frozen.token

    def _kwargs(self, service: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"config": RETRIES}
        endpoint = self._overrides.get(service)
        if endpoint is None and service in EMULATED_SERVICES:
            endpoint = self._endpoint
        if endpoint:
            kwargs["endpoint_url"] = endpoint
        if self._emulator_credentials and not os.environ.get("AWS_ACCESS_KEY_ID"):
            # The emulator accepts any credentials; never fall through to a real profile.
            kwargs.update(aws_access_key_id="testing", aws_secret_access_key="testing")
        return kwargs


class Boto3Clients(CachedClients):
    """Thread-safe, cached boto3 clients for one ``Settings``."""

    def __init__(
        self,
        settings: Settings,
        *,
        endpoint_overrides: dict[str, str] | None = None,
        emulator_credentials: bool = False,
    ):
        super().__init__(
            settings.region,
            settings.resolved_endpoint_url,
            endpoint_overrides=endpoint_overrides,
            emulator_credentials=emulator_credentials,
        )
        self.settings = settings


def lambda_clients(
    endpoint_url: str | None, region: str | None, runtime_endpoint_url: str | None = None
) -> CachedClients:
    """The scorer function's clients: AWS's own endpoints in Lambda; under the local runtime
    the emulator's (``endpoint_url``) and, for SageMaker's runtime, the model server's
    (``runtime_endpoint_url``). Empty values count as unset, as in Lambda's environment."""
    overrides = {"sagemaker-runtime": runtime_endpoint_url} if runtime_endpoint_url else {}
    return CachedClients(region, endpoint_url or None, endpoint_overrides=overrides)


def arrow_s3(clients: AwsClients, region: str):
    """A pyarrow S3 filesystem that reaches the same endpoint, with the same credentials."""
    from pyarrow import fs

    access, secret, token = clients.credentials()
    endpoint = clients.endpoint_url("s3")
    kwargs: dict[str, Any] = {"access_key": access, "secret_key": secret, "region": region}
    if token:
        kwargs["session_token"] = token
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        kwargs.update(endpoint_override=host.rstrip("/"), scheme=scheme)
    return fs.S3FileSystem(**kwargs)
