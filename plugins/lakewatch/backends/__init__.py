"""The backends: the one place that reads ``settings.backend`` (a test enforces it).

``backend_for(settings)`` gives the ``Backend`` (``base.py``) whose compute differs: ``local``
(``local.py``) or ``aws`` (``aws.py``). Everything else is shared code.
"""

from __future__ import annotations

from lakewatch.aws.clients import Boto3Clients
from lakewatch.backends.aws import AwsBackend
from lakewatch.backends.base import Backend
from lakewatch.backends.local import LocalBackend
from lakewatch.settings import Settings


def backend_for(settings: Settings) -> Backend:
    if settings.backend == "local":
        return LocalBackend(settings)
    return AwsBackend(settings)


def clients_for(settings: Settings) -> Boto3Clients:
    """boto3 clients for the configured backend, outside Airflow."""
    return backend_for(settings).clients()


__all__ = ["AwsBackend", "Backend", "LocalBackend", "backend_for", "clients_for"]
