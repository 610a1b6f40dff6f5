"""The steps of ``lakewatch_scorer_deploy``, one function per task, so its DAG file only wires.

The package is built once and staged in the results bucket; the deploy fetches it by key and
hash, so a retry deploys the very bytes the build made.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from lakewatch.orchestration.runtime import log, task_clients, task_settings


def build_package() -> dict[str, Any]:
    """The deployment zip from the repository, kept under ``scorer/packages/``."""
    from lakewatch.extract.daily import results_store
    from lakewatch.serving.lambda_package import build, stage

    settings = task_settings()
    package = build()
    store = results_store(settings, task_clients(settings))
    key = stage(store, package)
    log.info(
        "scorer package %s (%d bytes): %s",
        package.sha256[:16],
        len(package.body),
        store.uri(key),
    )
    return {"key": key, "sha256": package.sha256}


def deploy_scorer(built: dict[str, Any]) -> dict[str, Any]:
    """The staged package on the backend's function runtime, with the scorer's config."""
    from lakewatch.backends import backend_for
    from lakewatch.extract.daily import results_store
    from lakewatch.serving.aws_check import security_hub
    from lakewatch.serving.lambda_config import scorer_config
    from lakewatch.serving.lambda_package import fetch

    settings = task_settings()
    clients = task_clients(settings)
    hub = security_hub(settings, clients)  # a disabled hub warns; it never stops the deploy
    if hub is not None:
        (log.warning if hub.warning else log.info)("Security Hub: %s", hub.detail)
    package = fetch(results_store(settings, clients), built["key"], built["sha256"])
    result = backend_for(settings).deploy_scorer(clients, package, scorer_config(settings, clients))
    log.info(
        "scorer %s version %s, mapping %s is %s (%s)",
        result.function,
        result.version,
        result.mapping,
        result.state,
        "changed" if result.changed else "unchanged",
    )
    return asdict(result)
