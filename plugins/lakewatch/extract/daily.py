"""One day's extract: count, export and publish the pairs of the data interval."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from lakewatch.aws.clients import ClientFactory
from lakewatch.extract.export import (
    ExtractSummary,
    PairSet,
    day_prefix,
    publish,
)
from lakewatch.extract.views import QueryContext
from lakewatch.lake.sink import S3Store
from lakewatch.settings import Settings


class SqlEngine(Protocol):
    """Runs the extract's SQL: Athena on ``aws``, DuckDB on ``local`` (``lakewatch.backends``)."""

    name: str

    def extract(
        self, ctx: QueryContext, store: Any, prefix: str, attempt: str, summary: ExtractSummary
    ) -> None: ...


def results_store(settings: Settings, clients: ClientFactory) -> S3Store:
    return S3Store(clients("s3"), settings.results_bucket_name)


def extract_day(
    engine: SqlEngine,
    store,
    settings: Settings,
    start: datetime,
    end: datetime,
    pair_set: PairSet,
    attempt: str,
) -> ExtractSummary:
    """Extract, export and publish the pairs of [start, end); returns the manifest's content."""
    ctx = QueryContext(
        region=settings.region,
        source_version=settings.source_version,
        start=start,
        end=end,
        views=pair_set.views,
        keep=pair_set.keep,
    )
    prefix = day_prefix(settings.extracts_prefix, settings.source_version, pair_set, start.date())
    summary = ExtractSummary(
        day=start.date().isoformat(),
        pair_set=pair_set.key,
        source_version=settings.source_version,
        engine=engine.name,
    )
    engine.extract(ctx, store, prefix, attempt, summary)
    publish(store, prefix, summary)
    return summary
