"""aws.eventbridge: PutEvents in batches of ten, throttling and failed entries retried with
backoff, what still fails returned by key and never raised; on the emulator, a rule delivers
the events to its SQS target."""

import json

from botocore.exceptions import ClientError, EndpointConnectionError

from lakewatch.aws.eventbridge import MAX_BATCH, put_events


def _entries(n: int):
    return [
        (
            f"uid-{i}",
            {"Source": "lakewatch", "DetailType": "t", "Detail": "{}", "EventBusName": "b"},
        )
        for i in range(n)
    ]


class _Bus:
    """PutEvents answering from a script: an exception to raise or the failed entries' codes."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls: list[list[dict]] = []

    def put_events(self, Entries):
        self.calls.append(Entries)
        answer = self.answers.pop(0) if self.answers else {}
        if isinstance(answer, Exception):
            raise answer
        return {
            "FailedEntryCount": len(answer),
            "Entries": [
                {"ErrorCode": answer[i], "ErrorMessage": "no"} if i in answer else {"EventId": "e"}
                for i in range(len(Entries))
            ],
        }


def _error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutEvents",
    )


def test_entries_go_in_batches_of_ten():
    bus = _Bus()
    done = put_events(bus, _entries(23), sleep=lambda s: None)
    assert [len(c) for c in bus.calls] == [MAX_BATCH, MAX_BATCH, 3]
    assert (done.sent, done.not_sent) == (23, 0)


def test_throttling_and_failed_entries_are_retried_with_backoff_then_returned():
    slept = []
    bus = _Bus(_error("ThrottlingException", 400), {1: "InternalFailure", 2: "AccessDenied"}, {})
    done = put_events(bus, _entries(3), sleep=slept.append)
    assert len(bus.calls) == 3 and len(bus.calls[2]) == 1  # only the retryable entry again
    assert (done.sent, done.retries) == (2, 2)
    assert done.failed == {"uid-2": "AccessDenied: no"}
    assert len(slept) == 2 and slept[1] > slept[0] * 0.3  # backoff grows (with jitter)


def test_an_outage_is_returned_after_the_attempts_never_raised():
    bus = _Bus(*[EndpointConnectionError(endpoint_url="http://x")] * 3)
    done = put_events(bus, _entries(2), max_attempts=3, sleep=lambda s: None)
    assert len(bus.calls) == 3 and done.sent == 0
    assert set(done.failed) == {"uid-0", "uid-1"}
    assert done.first_error().startswith("EndpointConnectionError")
    refused = put_events(_Bus(_error("AccessDeniedException", 400)), _entries(1))
    assert refused.failed["uid-0"].startswith("AccessDeniedException")  # at once: no retry


def test_the_emulators_rule_delivers_to_its_queue(emulator_settings, clients):
    from lakewatch.local.bootstrap import ensure_step_up_inbox, read_step_up_events

    settings = emulator_settings.model_copy(update={"step_up_event_bus": "lw-bus-test-eb"})
    url = ensure_step_up_inbox(clients("events"), clients("sqs"), settings)
    assert url == ensure_step_up_inbox(clients("events"), clients("sqs"), settings)  # idempotent
    entry = {
        "Source": "lakewatch",
        "DetailType": "Unusual sign-in",
        "Detail": json.dumps({"principal": "sso:a"}),
        "EventBusName": "lw-bus-test-eb",
    }
    other = {**entry, "DetailType": "Something else"}
    done = put_events(clients("events"), [("a", entry), ("b", other)])
    assert done.sent == 2
    got = read_step_up_events(clients("sqs"), settings, wait_s=2)
    assert [(e["source"], e["detail-type"], e["detail"]) for e in got] == [
        ("lakewatch", "Unusual sign-in", {"principal": "sso:a"})
    ]
