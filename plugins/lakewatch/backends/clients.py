"""Each backend's boto3 clients, apart from the backend classes.

``clients_for`` is what a CLI process (``lakewatch train``, ``score``, ``lake generate``)
needs of a backend; importing the backend classes for it imported DuckDB, sqlglot, the scorer
and the serving code too: 0.6 s of every such process's start.
"""

from __future__ import annotations

from lakewatch.aws.clients import Boto3Clients
from lakewatch.settings import Settings


def local_clients(settings: Settings) -> Boto3Clients:
    """S3/SQS/SSM on the emulator (any credentials), SageMaker runtime on our router."""
    return Boto3Clients(
        settings,
        endpoint_overrides={"sagemaker-runtime": settings.model_server_url},
        emulator_credentials=True,
    )


def aws_clients(settings: Settings) -> Boto3Clients:
    return Boto3Clients(settings)
