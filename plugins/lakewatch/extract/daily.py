"""One day's extract: count, export and publish the pairs of the data interval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa

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

    # any other query's rows (the RCF features: ``extract.rcf_features.sql``)
    def query(self, athena_sql: str, ctx: QueryContext) -> pa.Table: ...


def results_store(settings: Settings, clients: ClientFactory) -> S3Store:
    return S3Store(clients("s3"), settings.results_bucket_name)


@dataclass
class DayPlan:
    """What one try of one day's extract reads and writes."""

    settings: Settings
    ctx: QueryContext
    prefix: str  # the day's prefix under the extracts
    attempt: str  # this try's parts go under ``attempt=<id>/``
    summary: ExtractSummary


def plan_day(
    settings: Settings, start: datetime, end: datetime, pair_set: PairSet, attempt: str
) -> DayPlan:
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
        day=start.date().isoformat(), pair_set=pair_set.key, source_version=settings.source_version
    )
    return DayPlan(settings, ctx, prefix, attempt, summary)


def run_day(engine: SqlEngine, store: Any, day: DayPlan) -> ExtractSummary:
    """Extract, export and publish the planned day; returns the manifest's content."""
    day.summary.engine = engine.name
    engine.extract(day.ctx, store, day.prefix, day.attempt, day.summary)
    publish(store, day.prefix, day.summary)
    return day.summary


def extract_day(
    engine: SqlEngine,
    store: Any,
    settings: Settings,
    start: datetime,
    end: datetime,
    pair_set: PairSet,
    attempt: str,
) -> ExtractSummary:
    """Extract, export and publish the pairs of [start, end); returns the manifest's content."""
    return run_day(engine, store, plan_day(settings, start, end, pair_set, attempt))
