"""threshold.publish: versioned, idempotent SSM publishes and the evidence (record, PNG, index)
beside them."""

import io
import json

import pytest
from PIL import Image

from lakewatch.lake.sink import S3Store
from lakewatch.threshold.choose import evaluate
from lakewatch.threshold.plot import explain_png
from lakewatch.threshold.publish import (
    ThresholdRecord,
    publish,
    read_published,
    write_evidence,
    write_index,
)


def _eval(shift=0.0):
    import numpy as np

    rng = np.random.default_rng(0)
    return evaluate(
        rng.normal(2 + shift, 1, 2000), {"random_public": rng.normal(-2, 1, 500)}, 0.01, 0.01
    )


def _record(threshold=0.5):
    ev = _eval()
    return ThresholdRecord(
        day="2026-11-05",
        model_id="m1",
        endpoint="ep",
        target_fpr=0.01,
        threshold=threshold,
        evaluation=ev.to_json(),
        sets=ev.sizes,
    )


def test_publish_is_versioned_and_idempotent(aws, clients):
    settings, _ = aws
    ssm = clients("ssm")
    name = f"/lakewatch/test/{settings.results_bucket_name}"
    assert read_published(ssm, name) is None
    v1 = publish(ssm, name, _record(0.5))
    assert publish(ssm, name, _record(0.5)) == v1  # same value: no new version
    v2 = publish(ssm, name, _record(0.7))
    assert v2 == v1 + 1
    current = read_published(ssm, name)
    assert current is not None and current.threshold == 0.7 and current.version == v2
    assert len(ssm.get_parameter(Name=name)["Parameter"]["Value"]) < 4096


def test_a_value_that_is_not_a_record_reads_as_an_error_and_is_replaced(aws, clients):
    """The scorer and the gate never act on a hand edit; the next publish repairs it."""
    import pytest

    from lakewatch.threshold.published import NotAThresholdRecord

    settings, _ = aws
    ssm = clients("ssm")
    name = f"/lakewatch/test/{settings.results_bucket_name}/broken"
    ssm.put_parameter(Name=name, Value="{not json", Type="String")
    with pytest.raises(NotAThresholdRecord, match="version 1 is not a threshold record"):
        read_published(ssm, name)
    assert publish(ssm, name, _record(0.5)) == 2
    assert read_published(ssm, name).threshold == 0.5


def test_the_stacks_placeholder_reads_as_nothing_published(aws, clients):
    """deploy/lakewatch.yaml must give the parameter a value: the first recalibration sees no
    previous threshold there, and its publish replaces it."""
    from lakewatch.threshold.publish import UNPUBLISHED

    settings, _ = aws
    ssm = clients("ssm")
    name = f"/lakewatch/test/{settings.results_bucket_name}/stack"
    ssm.put_parameter(Name=name, Value=UNPUBLISHED, Type="String")
    assert read_published(ssm, name) is None
    assert publish(ssm, name, _record(0.5)) == 2
    assert read_published(ssm, name).threshold == 0.5
    # a rollback can never put the placeholder back: it is no version of the threshold
    from lakewatch.threshold.publish import history, restore

    assert [v["version"] for v in history(ssm, name)] == [2]
    with pytest.raises(ValueError, match="has no version 1"):
        restore(ssm, name, 1)


def test_evidence_and_index(aws, clients):
    import numpy as np

    settings, _ = aws
    store = S3Store(clients("s3"), settings.results_bucket_name)
    record = _record()
    ev = _eval()
    png = explain_png(
        np.random.default_rng(0).normal(2, 1, 500),
        {"random_public": np.random.default_rng(1).normal(-2, 1, 200)},
        ev,
        "test",
    )
    write_evidence(store, "thresholds/", record, png)
    write_evidence(store, "thresholds/", record, png)  # a rerun rewrites, never duplicates
    keys = sorted(store.list("thresholds/history/"))
    assert keys == [
        "thresholds/history/day=2026-11-05/record.json",
        "thresholds/history/day=2026-11-05/threshold.png",
    ]
    image = Image.open(io.BytesIO(store.get(keys[1])))
    assert image.format == "PNG" and image.size[0] > 800
    write_index(store, "thresholds/")
    index = json.loads(store.get("thresholds/history.json"))
    assert [row["day"] for row in index] == ["2026-11-05"]


def test_the_published_record_carries_view_offsets_only_when_adopted():
    import dataclasses

    assert "view_offsets" not in _record().compact()
    adopted = dataclasses.replace(_record(), view_offsets={"outbound": 0.4, "inbound": -0.2})
    assert adopted.compact()["view_offsets"] == {"outbound": 0.4, "inbound": -0.2}
