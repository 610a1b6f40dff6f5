"""Settings and AWS clients for a running task.

Settings: ``LAKEWATCH_*`` environment variables, overridden by the Airflow Variable
``lakewatch`` (a JSON object with the same names) when it exists. AWS: the Amazon provider's
hooks for ``settings.aws_conn_id`` (``aws_default``), so the connection decides credentials,
region and, on the local backend, the emulator's ``endpoint_url``.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3

from lakewatch.aws.clients import RETRIES
from lakewatch.names import digest
from lakewatch.settings import Settings

VARIABLE = "lakewatch"
log = logging.getLogger("lakewatch")


def task_settings() -> Settings:
    from airflow.sdk import Variable

    overrides = Variable.get(VARIABLE, default=None, deserialize_json=True) or {}
    if not isinstance(overrides, dict):
        raise ValueError(f"Airflow Variable {VARIABLE!r} must be a JSON object of settings")
    return Settings(**overrides)


def aws_conn_id() -> str:
    """The AWS connection, resolved when a task runs like every other setting (the Variable
    over the environment). The Amazon provider's operators take it as a template field:
    ``AWS_CONN_ID`` renders it through this DAG macro (``MACROS``)."""
    return task_settings().aws_conn_id


MACROS = {"lakewatch_aws_conn_id": aws_conn_id}  # a DAG's ``user_defined_macros``
AWS_CONN_ID = "{{ lakewatch_aws_conn_id() }}"


class HookClients:
    """boto3 clients from the Amazon provider's ``AwsBaseHook`` for one connection (its
    extras configure them, the provider's way); the one client the hook cannot build, the
    runtime at a local URL, gets lakewatch's ``RETRIES`` like ``aws.clients``'.

    ``sagemaker-runtime`` goes where the backend says (``Backend.runtime_url``): on ``local``
    to lakewatch's endpoint router instead of the emulator, as it would go to SageMaker on AWS.
    """

    def __init__(self, settings: Settings):
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        self.settings = settings
        from lakewatch.backends import backend_for  # not at import: DAG files parse fast

        self._runtime_url = backend_for(settings).runtime_url()
        self._hook_cls = AwsBaseHook
        self._cache: dict[str, Any] = {}
        self._base = AwsBaseHook(aws_conn_id=settings.aws_conn_id, client_type="s3")

    def __call__(self, service: str) -> Any:
        if service not in self._cache:
            if service == "sagemaker-runtime" and self._runtime_url:
                access, secret, token = self.credentials()
                self._cache[service] = boto3.client(
                    service,
                    config=RETRIES,  # lakewatch's retry policy, as every client it builds
                    endpoint_url=self._runtime_url,
                    region_name=self.settings.region,
                    aws_access_key_id=access,
                    aws_secret_access_key=secret,
                    aws_session_token=token,
                )
            else:
                hook = self._hook_cls(
                    aws_conn_id=self.settings.aws_conn_id,
                    client_type=service,
                    region_name=self.settings.region,
                )
                self._cache[service] = hook.get_conn()
        return self._cache[service]

    def endpoint_url(self, service: str) -> str | None:
        if service == "sagemaker-runtime" and self._runtime_url:
            return self._runtime_url
        return self._base.conn_config.endpoint_url

    def credentials(self) -> tuple[str, str, str | None]:
        creds = self._base.get_credentials(region_name=self.settings.region)
        return creds.access_key, creds.secret_key, creds.token


def task_clients(settings: Settings) -> HookClients:
    return HookClients(settings)


def attempt_id(run_id: str, try_number: int) -> str:
    """A short id unique to one try of one task of one run (names extract attempts)."""
    return f"{digest(run_id)}-t{try_number}"
