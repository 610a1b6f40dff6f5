"""training.plan: the training window from published extracts, SageMaker manifests, analysts' false
positives joined, and a clear refusal when there is too little data."""

import json
from datetime import date

import pytest

from lakewatch.extract.export import ExtractSummary, PairSet, day_prefix, publish
from lakewatch.lake.sink import S3Store
from lakewatch.training.plan import NotEnoughData, plan_training


def _publish_days(store, days, rows=500):
    for d in days:
        prefix = day_prefix("extracts/", "2.0", PairSet(), d)
        train_key, val_key = f"{prefix}attempt=a/train.csv", f"{prefix}attempt=a/validation.csv"
        store.put(train_key, b"i-1,10.0.0.1\n" * rows)
        store.put(val_key, b"i-1,10.0.0.2\n" * (rows // 10))
        publish(
            store,
            prefix,
            ExtractSummary(
                day=d.isoformat(),
                pair_set=PairSet().key,
                source_version="2.0",
                rows=rows,
                entities=3,
                split_rows={"train": rows, "validation": rows // 10},
                parts={"train": [train_key], "validation": [val_key]},
                attempt="a",
            ),
        )


def _plan(store, window_days=4, min_rows=100, false_positives=None, **hp):
    """Plan training over November 2026 up to the 5th, as the train DAG would."""
    return plan_training(
        store,
        "extracts/",
        "models/",
        "2.0",
        PairSet(),
        date(2026, 11, 5),
        window_days,
        min_rows,
        hp,
        "lakewatch",
        false_positives=false_positives,
    )


def test_analysts_false_positives_join_the_training_pairs(aws, clients):
    """A pair labelled false positive is normal: training reads it as one more part, and the
    model id changes with the labels (a retrain after new labels is a new model)."""
    from lakewatch.review import feedback

    settings, _ = aws
    store = S3Store(clients("s3"), settings.results_bucket_name)
    _publish_days(store, [date(2026, 11, d) for d in (1, 2, 4)])
    plain = _plan(store, epochs=2)

    def label(uid, verdict, entity, ip, day, when):
        feedback.add_label(
            store,
            "feedback/",
            feedback.Label(uid, verdict, entity, ip, "egress_peer", day, "", "alice", when),
        )

    label("f1", "false_positive", "i-1", "45.1.1.1", "2026-11-03", "2026-11-03T10:00:00+00:00")
    label("f2", "false_positive", "i-2", "45.2.2.2", "2026-11-03", "2026-11-03T10:00:00+00:00")
    label("f2", "true_positive", "i-2", "45.2.2.2", "2026-11-03", "2026-11-03T11:00:00+00:00")
    label("f3", "false_positive", "i-3", "45.3.3.3", "2026-11-06", "2026-11-06T10:00:00+00:00")
    label("f5", "false_positive", "i-5", "45.5.5.5", "2026-11-05", "2026-11-05T10:00:00+00:00")
    label("f4", "false_positive", "i-1,i-2", "45.4.4.4", "2026-11-03", "2026-11-03T10:00:00+00:00")
    labelled = feedback.labelled_pairs(store, "feedback/", through=date(2026, 11, 5))
    fps = labelled["false_positive"]
    # f2 relabelled, f3 after the run's day, f4 an incident; f5, on the run's own day, counts
    assert fps == [("i-1", "45.1.1.1"), ("i-5", "45.5.5.5")]
    assert labelled["true_positive"] == [("i-2", "45.2.2.2")]  # f2's latest verdict
    plan = _plan(store, epochs=2, false_positives=fps)
    assert plan.feedback_pairs == 2 and plan.train_rows == plain.train_rows + 2
    assert plan.model_id != plain.model_id
    part = plan.train_parts[-1]
    assert part == f"models/training/{plan.model_id}/feedback.csv"
    assert store.get(part) == b"i-1,45.1.1.1\ni-5,45.5.5.5\n"
    manifest = json.loads(store.get(f"models/training/{plan.model_id}/train.manifest"))
    assert manifest[-1] == part


def test_plan_lists_the_window_and_writes_sagemaker_manifests(aws, clients):
    settings, _ = aws
    store = S3Store(clients("s3"), settings.results_bucket_name)
    _publish_days(store, [date(2026, 11, d) for d in (1, 2, 4)])
    plan = _plan(store, epochs=2)
    assert plan.days == ["2026-11-01", "2026-11-02", "2026-11-04"]
    assert plan.missing_days == ["2026-11-03"]
    assert plan.train_rows == 1500 and plan.entities_upper_bound == 9
    manifest = json.loads(
        store.get(plan.train_manifest.split(f"s3://{settings.results_bucket_name}/")[1])
    )
    assert manifest[0] == {"prefix": f"s3://{settings.results_bucket_name}/"}
    assert manifest[1:] == plan.train_parts
    again = _plan(store, epochs=2)
    assert again.model_id == plan.model_id  # deterministic
    other = _plan(store, epochs=3)
    assert other.model_id != plan.model_id
    # the manifest reads back as training input
    from lakewatch.model.data import read_pairs

    assert len(read_pairs(plan.train_manifest, clients)) == 1500


def test_not_enough_data_says_why(aws, clients):
    settings, _ = aws
    store = S3Store(clients("s3"), settings.results_bucket_name)
    with pytest.raises(NotEnoughData, match=r"0 training pairs in the 7 days before 2026-11-05"):
        _plan(store, window_days=7, min_rows=10)
