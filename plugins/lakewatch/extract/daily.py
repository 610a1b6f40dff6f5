"""One day's extract: count, export and publish the pairs of the data interval."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lakewatch.extract.athena import AthenaRunner
from lakewatch.extract.engine import DuckAthena, LakeLocation
from lakewatch.extract.export import (
    ExtractSummary,
    PairSet,
    day_prefix,
    publish,
)
from lakewatch.extract.views import QueryContext
from lakewatch.lake.sink import S3Store
from lakewatch.settings import Settings


def engine_for(settings: Settings, clients: Any, lake_uri: str | None = None):
    """Athena on ``aws``; DuckDB over the lake (the emulator's bucket or a folder) on ``local``."""
    if settings.backend == "aws":
        return AthenaRunner(
            clients("athena"), settings.athena_output_location, settings.athena_workgroup
        )
    uri = lake_uri or f"s3://{settings.lake_bucket_name}"
    return DuckAthena(LakeLocation.open(uri, clients, settings.region))


def results_store(settings: Settings, clients: Any) -> S3Store:
    return S3Store(clients("s3"), settings.results_bucket_name)


def extract_day(
    engine,
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
