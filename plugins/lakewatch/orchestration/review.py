"""The review page's access to the results bucket, inside Airflow's API server.

Settings come from the ``LAKEWATCH_*`` environment overridden by the Airflow Variable
``lakewatch``, as for tasks; AWS calls go through the provider's hook for the connection.
"""

from __future__ import annotations

from lakewatch.aws.securityhub import hub_for
from lakewatch.extract.daily import results_store
from lakewatch.lake.sink import S3Store
from lakewatch.orchestration.runtime import VARIABLE, HookClients
from lakewatch.review.desk import Desk
from lakewatch.review.reputation import read_reputation
from lakewatch.review.usual import UsualByModel
from lakewatch.settings import Settings


def api_settings() -> Settings:
    """Settings in the API server, which has no task context for ``airflow.sdk``'s Variable:
    the metadata database's Variable instead."""
    from airflow.models.variable import Variable

    overrides = Variable.get(VARIABLE, default_var=None, deserialize_json=True) or {}
    if not isinstance(overrides, dict):
        raise ValueError(f"Airflow Variable {VARIABLE!r} must be a JSON object of settings")
    return Settings(**overrides)


class UsualCache:
    """The page's one ``UsualByModel``, kept across requests while the results bucket and the
    models prefix stay the same: the training windows' indexes outlive a request (the page asks
    for many of one model's entities). A change of either builds a new one."""

    def __init__(self) -> None:
        self._where: tuple[str, str] | None = None
        self._usual: UsualByModel | None = None

    def get(self, settings: Settings, store: S3Store) -> UsualByModel:
        where = (settings.results_bucket_name, settings.models_prefix)
        if self._usual is None or where != self._where:
            self._where, self._usual = where, UsualByModel(store, settings.models_prefix)
        return self._usual


_usual = UsualCache()


def desk() -> Desk:
    settings = api_settings()
    clients = HookClients(settings)
    store = results_store(settings, clients)
    reputation = (
        read_reputation(settings.reputation_uri, clients("s3")) if settings.reputation_uri else None
    )
    return Desk(
        store,
        settings.findings_prefix,
        settings.feedback_prefix,
        reputation,
        _usual.get(settings, store),
        lake=S3Store(clients("s3"), settings.lake_bucket_name),
        source_version=settings.source_version,
        security_hub=hub_for(settings, clients),
    )
