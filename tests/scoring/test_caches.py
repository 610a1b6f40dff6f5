"""scoring.caches: what a warm function keeps between invocations (the threshold, its entity
rates, the suppressions) is re-read only when it may have changed, and a missing or hand-broken
value is a transient error naming what was wrong, never a crash."""

import pytest


def test_the_scorer_reads_entity_rates_from_the_published_record_once_per_version(aws, clients):
    import json

    from lakewatch.scoring.caches import EntityRates
    from lakewatch.scoring.errors import TransientError
    from lakewatch.threshold.published import PublishedThreshold

    def published(version: int, record: str = "") -> PublishedThreshold:
        return PublishedThreshold(threshold=-1.0, model_id="ipi-1", version=version, record=record)

    settings, _ = aws
    s3 = clients("s3")
    key = "thresholds/history/day=2026-11-29/record.json"
    uri = f"s3://{settings.results_bucket_name}/{key}"
    s3.put_object(
        Bucket=settings.results_bucket_name,
        Key=key,
        Body=json.dumps({"entity_rates": {"web/in": 0.02}}).encode(),
    )
    rates = EntityRates(s3)
    assert rates.get(published(3, uri)) == {"web/in": 0.02}
    s3.put_object(Bucket=settings.results_bucket_name, Key=key, Body=b"{}")
    assert rates.get(published(3, uri)) == {"web/in": 0.02}  # cached
    assert rates.get(published(4, uri)) == {}  # republished: read again
    assert rates.get(published(5)) == {}  # a compact record without its full record
    with pytest.raises(TransientError, match="reading the threshold record"):
        rates.get(published(6, uri + ".gone"))


def test_the_threshold_is_cached_for_its_ttl_and_a_bad_one_is_transient(aws, clients):
    import json

    from lakewatch.scoring.caches import ThresholdCache
    from lakewatch.scoring.errors import TransientError
    from lakewatch.threshold.published import PublishedThreshold

    ssm = clients("ssm")
    name = f"/lakewatch-test/{aws[0].queue_name}/threshold"
    cache = ThresholdCache(ssm, name, ttl=3600)
    with pytest.raises(TransientError, match="no threshold published"):
        cache.get()
    record = {"threshold": -1.5, "model_id": "ipi-1"}
    ssm.put_parameter(Name=name, Value=json.dumps(record), Type="String")
    assert cache.get() == PublishedThreshold(threshold=-1.5, model_id="ipi-1", version=1)
    assert cache.get().scale == 1.0 and cache.get().score == "dot_product"  # the defaults
    ssm.put_parameter(Name=name, Value=json.dumps({**record, "threshold": -2}), Overwrite=True)
    assert cache.get().threshold == -1.5  # inside the ttl
    cache.ttl = 0.0
    assert cache.get() == PublishedThreshold(threshold=-2.0, model_id="ipi-1", version=2)
    for version, value in enumerate(
        ("{not json", '{"model_id": "ipi-1"}', '{"threshold": "low", "model_id": "ipi-1"}', "[]"),
        start=3,
    ):
        ssm.put_parameter(Name=name, Value=value, Overwrite=True)
        with pytest.raises(TransientError, match=f"version {version} is not a threshold record"):
            cache.get()


def test_suppressions_in_force_are_listed_and_expired_ones_drop_out(aws, clients):
    from datetime import UTC, datetime, timedelta

    from lakewatch.lake.sink import S3Store
    from lakewatch.review.feedback import Suppression, add_suppression
    from lakewatch.scoring.caches import SuppressionCache

    settings, _ = aws
    store = S3Store(clients("s3"), settings.results_bucket_name)
    now = datetime.now(UTC)

    def suppress(entity: str, expires: datetime) -> None:
        add_suppression(
            store,
            "feedback/",
            Suppression(
                entity, "10.0.0.0/24", "", expires.isoformat(), "", "alice", now.isoformat()
            ),
        )

    cache = SuppressionCache(clients("s3"), settings.results_bucket_name, "feedback/", ttl=3600)
    assert cache.active() == []
    suppress("i-1", now + timedelta(days=1))
    assert cache.active() == []  # listed less than a ttl ago
    cache.ttl = 0.0
    suppress("i-2", now + timedelta(seconds=1))
    assert sorted(s.entity for s in cache.active()) == ["i-1", "i-2"]
    (active,) = [s for s in cache.active() if s.entity == "i-1"]
    assert active.covers("i-1/in", "10.0.0.7", "ingress_peer")
    import time

    time.sleep(1.2)
    assert [s.entity for s in cache.active()] == ["i-1"]
