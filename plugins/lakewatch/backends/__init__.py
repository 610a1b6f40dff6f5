"""The backends: the one place that reads ``settings.backend`` (a test enforces it).

``backend_for(settings)`` gives the ``Backend`` (``base.py``) whose compute differs: ``local``
(``local.py``) or ``aws`` (``aws.py``). Everything else is shared code.

The backend classes are imported when asked for (PEP 562), not with this package: a CLI
process that needs only clients (``clients_for``, from ``clients.py``) does not pay for the
engines, the scorer and the serving code the classes import (0.6 s).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lakewatch.backends.clients import aws_clients, local_clients
from lakewatch.settings import Settings

if TYPE_CHECKING:
    from lakewatch.aws.clients import Boto3Clients
    from lakewatch.backends.aws import AwsBackend
    from lakewatch.backends.base import Backend
    from lakewatch.backends.local import LocalBackend

_MODULES = {
    "AwsBackend": "lakewatch.backends.aws",
    "Backend": "lakewatch.backends.base",
    "LocalBackend": "lakewatch.backends.local",
}


def backend_for(settings: Settings) -> Backend:
    if settings.backend == "local":
        from lakewatch.backends.local import LocalBackend

        return LocalBackend(settings)
    from lakewatch.backends.aws import AwsBackend

    return AwsBackend(settings)


def clients_for(settings: Settings) -> Boto3Clients:
    """boto3 clients for the configured backend, outside Airflow: the same as
    ``backend_for(settings).clients()``, without importing the backend."""
    return local_clients(settings) if settings.backend == "local" else aws_clients(settings)


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULES[name]), name)


__all__ = ["AwsBackend", "Backend", "LocalBackend", "backend_for", "clients_for"]
