import json

import pytest

from lakewatch.backends import backend_for
from lakewatch.local import emulator
from lakewatch.settings import Settings


def test_bootstrap_creates_buckets_and_redriven_queue(aws, clients):
    settings, res = aws
    s3, sqs = clients("s3"), clients("sqs")
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {settings.lake_bucket_name, settings.results_bucket_name} <= names
    assert settings.lake_bucket_name.startswith("aws-security-data-lake-us-east-1-")
    attrs = sqs.get_queue_attributes(QueueUrl=res.queue_url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(settings.dlq_name)
    assert int(redrive["maxReceiveCount"]) == settings.max_receive_count


def test_bootstrap_is_idempotent(aws, clients):
    settings, first = aws
    assert backend_for(settings).provision(clients) == first


def test_second_start_reuses_the_running_emulator(emulator_settings):
    record = emulator.start(emulator_settings)
    assert record is not None and record.alive()


def test_port_owned_by_someone_else_is_refused(emulator_settings, tmp_path):
    other = Settings(emulator_port=emulator_settings.emulator_port, state_dir=tmp_path)
    with pytest.raises(RuntimeError, match="did not start"):
        emulator.start(other)


def test_up_and_down_leave_nothing_running(tmp_path):
    settings = Settings(emulator_port=emulator.free_port(), state_dir=tmp_path)
    record = emulator.start(settings)
    assert emulator.is_serving(settings)
    assert emulator.stop(settings)
    assert not record.alive() and not emulator.is_serving(settings)
