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
