"""The scorer honours analysts' suppressions (``lakewatch findings suppress``) until they
expire, and counts what it silenced."""

import dataclasses
from datetime import UTC, date, datetime, timedelta

from lakewatch.backends import LocalBackend
from lakewatch.lake.layout import Source
from lakewatch.lake.sink import S3Store
from lakewatch.review import feedback
from lakewatch.review.findings import read_day
from lakewatch.scoring.events import ObjectRef
from lakewatch.scoring.process import Scorer
from lakewatch.serving.scorer_config import scorer_config
from tests.scoring.test_handler import _put_day_objects


def _flagged(scorer: Scorer, objects, bucket) -> tuple[set[tuple[str, str]], int]:
    pairs, suppressed = set(), 0
    for obj in objects:
        result = scorer.process_object(ObjectRef(bucket, obj.key, None, "s3"))
        suppressed += result.suppressed
    store = S3Store(scorer.clients("s3"), scorer.config.results_bucket)
    for f in read_day(store, scorer.config.findings_prefix, date(2026, 11, 5)):
        if dict(f["unmapped"]).get("lakewatch.kind") == "anomalous_pair":
            pairs.add((f["resources"][0]["uid"], f["observables"][1]["value"]))
    return pairs, suppressed


def test_a_suppressed_pair_is_not_a_finding_until_the_suppression_expires(stack, clients):
    settings, _ = stack
    config = dataclasses.replace(scorer_config(settings, clients), threshold_ttl_s=0.0)
    scorer = Scorer(config, LocalBackend(settings).clients())
    objects = [
        o
        for o in _put_day_objects(clients, settings.lake_bucket_name, day=date(2026, 11, 5))
        if o.source is Source.VPC_FLOW
    ]
    before, suppressed = _flagged(scorer, objects, settings.lake_bucket_name)
    assert before and suppressed == 0
    instance, ip = sorted(before)[0]
    store = S3Store(clients("s3"), settings.results_bucket_name)
    now = datetime.now(UTC)
    expired = feedback.Suppression(
        instance,
        f"{ip}/32",
        "",
        (now - timedelta(days=1)).isoformat(),
        "old",
        "carol",
        (now - timedelta(days=8)).isoformat(),
    )
    feedback.add_suppression(store, settings.feedback_prefix, expired)
    assert _flagged(scorer, objects, settings.lake_bucket_name)[1] == 0  # expired: no effect
    feedback.add_suppression(
        store,
        settings.feedback_prefix,
        feedback.suppression_for(instance, ip, None, None, 7, "known backup", "alice"),
    )
    for key in list(store.list(settings.findings_prefix)):  # start the day's findings afresh
        clients("s3").delete_object(Bucket=settings.results_bucket_name, Key=key)
    after, suppressed = _flagged(scorer, objects, settings.lake_bucket_name)
    assert suppressed >= 1
    assert (instance, ip) not in after
    # nothing new is flagged; besides the suppressed pair, only pairs that were flagged as its
    # incident's companions may go (another pair of the instance within the hour, the other
    # end of its connection): a suppressed pair is no evidence for others either
    assert after <= before - {(instance, ip)}
    assert len(before - after) <= 3, before - after


def test_per_view_offsets_move_each_views_scores():
    import numpy as np

    from lakewatch.scoring.process import shifted

    values = np.array([-1.0, -1.0, -1.0])
    views = ["egress_peer", "ingress_peer", "dns_answer"]
    assert shifted(values, views, {}) is values  # pooled: untouched
    moved = shifted(values, views, {"outbound": 0.5, "inbound": -2.0})
    # outbound's threshold is 0.5 above the pooled one: its pairs sit 0.5 lower against it
    assert moved.tolist() == [-1.5, 1.0, -1.5]
