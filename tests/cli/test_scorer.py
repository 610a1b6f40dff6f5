"""``lakewatch scorer``: invoke runs the handler once on a Lambda SQS event file and prints its
response; run polls the subscriber queue like Lambda's mapping and, with --idle-exit, stops
once the queue stays empty and prints what it did."""

import json

from lakewatch.cli import main
from tests.reliability.test_fuzz_handler import _record


def test_invoke_prints_the_handler_response(scorer_env, clients, tmp_path, capsys):
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"Records": [_record(0, "{broken")]}))
    assert main(["scorer", "invoke", "--event", str(path)]) == 0
    out = capsys.readouterr().out
    # poison is dead-lettered at once, not returned for a retry
    assert json.loads(out[out.index("{\n") :]) == {"batchItemFailures": []}
    dlq = clients("sqs").get_queue_url(QueueName=scorer_env.dlq_name)["QueueUrl"]
    moved = clients("sqs").receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)
    assert [m["Body"] for m in moved.get("Messages", [])] == ["{broken"]


def test_run_drains_the_queue_stops_when_idle_and_reports(scorer_env, clients, capsys):
    sqs = clients("sqs")
    queue = sqs.get_queue_url(QueueName=scorer_env.queue_name)["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="not a notification")
    assert main(["scorer", "run", "--idle-exit", "1", "--batching-window", "0.1"]) == 0
    stats = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (stats["batches"], stats["received"], stats["deleted"], stats["failed"]) == (1, 1, 1, 0)
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
