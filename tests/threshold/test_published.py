"""threshold.published: the record the scorer reads is SSM's compact record, key for key, with
its defaults for keys a record lacks, and anything else is refused by name and version."""

import json

import pytest

from lakewatch.threshold.published import NotAThresholdRecord, PublishedThreshold, parse_published
from tests.threshold.test_publish import _record


def test_the_compact_record_reads_back_whole():
    """Every key ``compact`` writes is a field, so nothing SSM holds is lost on reading."""
    import dataclasses

    for record in (_record(), dataclasses.replace(_record(), view_offsets={"outbound": 0.4})):
        compact = record.compact()
        read = parse_published("/t", json.dumps(compact, sort_keys=True), 7)
        assert read.model_dump(exclude={"version"}, exclude_unset=True) == compact
        assert read.version == 7 and read.view_offsets == record.view_offsets


def test_a_bare_record_reads_with_the_defaults():
    read = parse_published("/t", '{"threshold": -2, "model_id": "ipi-1", "later": 1}', 3)
    assert read == PublishedThreshold(threshold=-2.0, model_id="ipi-1", version=3)
    assert (read.score, read.scale, read.view_offsets, read.record) == ("dot_product", 1.0, {}, "")
    assert read.target_fpr is None and not read.of_detector


@pytest.mark.parametrize(
    "value",
    ["{not json", "[]", '"x"', '{"model_id": "m"}', '{"threshold": "low", "model_id": "m"}'],
)
def test_anything_else_is_not_a_threshold_record(value):
    with pytest.raises(NotAThresholdRecord, match="/t version 4 is not a threshold record"):
        parse_published("/t", value, 4)
