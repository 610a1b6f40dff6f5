"""``make demo``: the main job on the local backend, from a fresh machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lakewatch.aws.clients import clients_for
from lakewatch.lake.generator import GenerateOptions
from lakewatch.lake.sink import S3Store
from lakewatch.lake.write import write_lake
from lakewatch.local import emulator
from lakewatch.local.bootstrap import bootstrap
from lakewatch.settings import load_settings


def run_demo(days: int, rows_per_day: int, seed: int) -> int:
    settings = load_settings()
    print(f"[1/2] starting the local AWS emulator on {settings.resolved_endpoint_url}")
    emulator.start(settings)
    clients = clients_for(settings)
    resources = bootstrap(settings, clients)
    start = datetime.now(UTC).date() - timedelta(days=days)
    print(
        f"[2/2] generating {days} days of Security Lake data from {start} into "
        f"s3://{resources.lake_bucket}"
    )
    summary = write_lake(
        GenerateOptions(
            days=days, start=start, seed=seed, rows_per_day=rows_per_day, region=settings.region
        ),
        S3Store(clients("s3"), resources.lake_bucket),
        ground_truth_prefix=settings.ground_truth_prefix,
        account_id=settings.account_id,
    )
    for line in summary.lines():
        print("      " + line)
    print(
        f"\nThe emulator keeps running at {settings.resolved_endpoint_url}; "
        "`make down` stops everything lakewatch started."
    )
    return 0
