"""threshold.recalibrate: the night it works on, the deployed model it calibrates, labelled
false positives' scores in the evidence, and a refused record never published."""

import dataclasses
import json
from datetime import UTC, date, datetime

import pytest

from lakewatch.extract.daily import results_store
from lakewatch.names import threshold_night_prefix
from lakewatch.threshold.publish import read_published
from lakewatch.threshold.recalibrate import (
    NOT_RETRYABLE,
    NoModelDeployed,
    Refused,
    _scores_of,
    current_model,
    night_of,
    publish_record,
    summary_lines,
)
from tests.threshold.test_publish import _record


def test_the_evidence_gives_each_labelled_false_positives_score():
    pairs = [["i-1", "10.0.0.1"], ["i-3", "45.1.1.1"]]
    assert _scores_of(pairs, [0.5, -2.5], [["i-3", "45.1.1.1"]]) == [
        {"entity": "i-3", "ip": "45.1.1.1", "score": -2.5}
    ]


def test_a_run_recalibrates_on_the_day_before_it_runs():
    assert night_of(datetime(2026, 12, 1, 0, 30, tzinfo=UTC)) == date(2026, 11, 30)


def test_no_deployed_model_is_a_clear_refusal(aws, clients):
    settings, _ = aws
    with pytest.raises(NoModelDeployed, match="run lakewatch_train first"):
        current_model(settings, clients)
    assert NoModelDeployed in NOT_RETRYABLE


def test_a_refused_record_is_never_published_and_an_accepted_one_is(aws, clients, tmp_path):
    settings = aws[0].model_copy(update={"threshold_parameter": f"/lakewatch/t/{tmp_path.name}"})
    store = results_store(settings, clients)
    day = date(2026, 11, 5)
    key = f"{threshold_night_prefix(settings.thresholds_prefix, day.isoformat())}record.json"
    refused = dataclasses.replace(_record(), refused=["AUC 0.61 below the gate"])
    store.put(key, json.dumps(dataclasses.asdict(refused)).encode())
    with pytest.raises(Refused, match=r"AUC 0\.61 below the gate"):
        publish_record(settings, clients, day)
    assert read_published(clients("ssm"), settings.threshold_parameter) is None
    store.put(key, json.dumps(dataclasses.asdict(_record(0.25))).encode())
    record = publish_record(settings, clients, day)
    assert record.published and record.version >= 1
    assert read_published(clients("ssm"), settings.threshold_parameter).threshold == 0.25
    assert json.loads(store.get(key))["published"] is True
    assert json.loads(store.get(f"{settings.thresholds_prefix}history.json"))
    lines = summary_lines(record)
    assert lines[0].startswith("threshold 0.2500") and "recall by kind: random_public" in lines[1]


def test_signins_get_their_own_threshold_published_as_the_signin_offset(aws, clients, tmp_path):
    import numpy as np

    from lakewatch.threshold.choose import threshold_for_fpr
    from lakewatch.threshold.recalibrate import Options, choose

    settings = aws[0].model_copy(update={"threshold_parameter": f"/lakewatch/t/{tmp_path.name}"})
    store = results_store(settings, clients)
    rng = np.random.default_rng(3)
    net, signin = rng.normal(3, 1, 4_000), rng.normal(9, 1, 300)  # two populations, two scales
    entities = [f"i-{k % 40}" for k in range(4_000)] + [f"sso:p{k % 25}" for k in range(300)]
    bad = rng.normal(-2, 0.5, 500).tolist()
    doc = {
        "model_id": "ipi-s",
        "scores": {"normal": [*net.tolist(), *signin.tolist()], "random_public": bad},
        "normal_entities": entities,
        "abnormal_entities": {"random_public": [f"i-{k}" for k in range(250)] + ["sso:p1"] * 250},
        "notes": [],
        "score": "detector",
    }
    store.put("work/scores.json", json.dumps(doc).encode())
    record = choose(settings, clients, date(2026, 11, 5), "work/scores.json", Options())
    assert record.threshold == threshold_for_fpr(net, 0.001)  # the network pairs' alone
    signin_threshold = threshold_for_fpr(signin, 0.001)
    assert record.view_offsets["signin"] == pytest.approx(signin_threshold - record.threshold)
    assert record.views["signin"]["normal_pairs"] == 300
    assert any(n.startswith("signin threshold: ") for n in record.notes)
