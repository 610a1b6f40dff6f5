"""extract.daily: one day of the lake extracted on the local backend: CSV parts and a manifest
published, reruns that overwrite and clean up, IPv6 on request, an empty day."""

from datetime import UTC, date, datetime

import pytest

from lakewatch.backends import backend_for
from lakewatch.extract.daily import extract_day, results_store
from lakewatch.extract.export import PairSet, day_prefix, read_manifest
from lakewatch.lake.sink import S3Store
from lakewatch.lake.synthetic import GenerateOptions
from lakewatch.lake.write import write_lake

DAY = datetime(2026, 11, 2, tzinfo=UTC)


NEXT = datetime(2026, 11, 3, tzinfo=UTC)


@pytest.fixture
def lake(aws, clients):
    settings, _ = aws
    write_lake(
        GenerateOptions(days=2, start=date(2026, 11, 1), rows_per_day=6000, seed=4),
        S3Store(clients("s3"), settings.lake_bucket_name),
    )
    return settings


def test_local_extract_publishes_csv_and_manifest(lake, clients):
    settings = lake
    store = results_store(settings, clients)
    summary = extract_day(
        backend_for(settings).sql_engine(clients),
        store,
        settings,
        DAY,
        NEXT,
        PairSet(),
        attempt="a1",
    )
    prefix = day_prefix(settings.extracts_prefix, "2.0", PairSet(), DAY.date())
    assert prefix == (
        "extracts/source_version=2.0/pairs=dns_answer+egress_peer+ingress_peer/day=2026-11-02/"
    )
    manifest = read_manifest(store, prefix)
    assert manifest.rows == summary.rows > 0 and manifest.attempt == "a1"
    assert set(manifest.dropped) == {
        "IPv6 address (the built-in algorithm takes IPv4 only)",
        "'-' entity or address (NAT/Lambda/Fargate ENI, NODATA)",
    }
    body = store.get(manifest.parts["train"][0]).decode()
    first = body.splitlines()[0].split(",")
    assert len(first) == 2 and first[0].startswith("i-")  # headerless entity,ip
    lines = sum(
        len(store.get(k).decode().splitlines()) for keys in manifest.parts.values() for k in keys
    )
    assert lines == summary.rows == sum(summary.split_rows.values())
    assert any(":" not in line.split(",")[1] for line in body.splitlines())
    assert all(":" not in line.split(",")[1] for line in body.splitlines())  # no IPv6 kept


def test_rerun_overwrites_and_cleans_up(lake, clients):
    settings = lake
    store = results_store(settings, clients)
    engine = backend_for(settings).sql_engine(clients)
    first = extract_day(engine, store, settings, DAY, NEXT, PairSet(), attempt="a1")
    second = extract_day(engine, store, settings, DAY, NEXT, PairSet(), attempt="a2")
    prefix = day_prefix(settings.extracts_prefix, "2.0", PairSet(), DAY.date())
    keys = sorted(store.list(prefix))
    assert keys == sorted(
        [f"{prefix}manifest.json", *second.parts["train"], *second.parts["validation"]]
    )
    assert store.get(second.parts["train"][0]) == _first_bytes(first, store, second)
    assert first.rows == second.rows


def _first_bytes(first, store, second):
    # a1's parts are gone; a2 produced the same content (deterministic split)
    assert not list(store.list(first.parts["train"][0]))
    return store.get(second.parts["train"][0])


def test_ipv6_kept_when_asked(lake, clients):
    settings = lake
    store = results_store(settings, clients)
    summary = extract_day(
        backend_for(settings).sql_engine(clients),
        store,
        settings,
        DAY,
        NEXT,
        PairSet(include_ipv6=True),
        attempt="v6",
    )
    body = store.get(summary.parts["train"][0]).decode()
    assert any(":" in line.split(",")[1] for line in body.splitlines())
    assert not any("IPv6" in reason for reason in summary.dropped)


def test_empty_day(lake, clients):
    settings = lake
    store = results_store(settings, clients)
    summary = extract_day(
        backend_for(settings).sql_engine(clients),
        store,
        settings,
        datetime(2025, 1, 1, tzinfo=UTC),
        datetime(2025, 1, 2, tzinfo=UTC),
        PairSet(),
        attempt="e",
    )
    assert summary.rows == 0 and summary.by_view == {}
