"""The load test's parts that need no stack: its plan, the scorer's log records, the dead
letters' reasons, and the accounting and figures of an outcome."""

import json
import time
from types import SimpleNamespace

import pytest

from lakewatch.loadtest.run import (
    LoadTest,
    Notification,
    Outcome,
    Sample,
    ScorerLog,
    copy_key,
    log_time,
    plan,
    reason_class,
)
from lakewatch.loadtest.stack import LakeObject
from lakewatch.scoring.events import parse

KEY = "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261102/ab12.gz.parquet"


class FakeS3:
    def __init__(self):
        self.copies, self.puts = [], []

    def copy_object(self, Bucket, Key, CopySource):
        self.copies.append((Key, CopySource["Key"]))

    def put_object(self, Bucket, Key, Body):
        self.puts.append(Key)


def _stack(s3):
    objects = [LakeObject(KEY, 100, 10), LakeObject(KEY.replace("ab12", "cd34"), 200, 20)]
    return SimpleNamespace(
        clients=lambda service: s3,
        lake_bucket="lake",
        objects=objects,
        settings=SimpleNamespace(region="us-east-1", account_id="123456789012"),
    )


def test_the_plan_spreads_one_bad_kind_after_another_among_copies_of_their_own():
    s3 = FakeS3()
    notes = plan(_stack(s3), 20, 5)
    bad = [n for n in notes if n.kind != "object"]
    assert [n.kind for n in bad] == ["missing", "corrupt", "foreign", "malformed", "missing"]
    assert [n.index for n in bad] == [2, 6, 10, 14, 18]  # evenly spread
    good = [n for n in notes if n.kind == "object"]
    assert len({n.key for n in good}) == 15 and len(s3.copies) == 15  # a key of its own each
    assert all(k.endswith(f"-lt{int(k[-17:-11]):06d}.gz.parquet") for k, _ in s3.copies)
    assert s3.puts == [n.key for n in bad if n.kind == "corrupt"]  # only the corrupt one exists
    for n in good:  # a real Security Lake notification naming the copy in the lake
        (ref,) = parse(n.body).objects
        assert (ref.bucket, ref.key) == ("lake", n.key)
    foreign = next(n for n in bad if n.kind == "foreign")
    assert json.loads(foreign.body)["detail"]["bucket"]["name"] != "lake"
    with pytest.raises(ValueError):
        plan(_stack(FakeS3()), 3, 4)


def test_copies_stay_in_their_partition():
    assert copy_key(KEY, "lt000007") == KEY.replace("ab12.gz", "ab12-lt000007.gz")


def test_the_scorer_log_yields_scored_and_skipped_records_as_they_are_written(tmp_path):
    path = tmp_path / "scorer.log"
    path.write_text("polling http://127.0.0.1:1/q\n")
    log = ScorerLog(path)  # from the end: what was there before is not this run's
    line = {
        "message": "scored",
        "key": "k1",
        "rows": 5,
        "timestamp": "2026-12-07 14:30:00,250+0000",
    }
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n" + '{"message": "retrying"}\n{"message": "sco')
    (got,) = log.records()
    assert got["key"] == "k1" and got["_at"] == pytest.approx(1796653800.25)
    with open(path, "a") as f:  # the half-written line, finished
        f.write('red", "key": "k2"}\nnot json {\n')
    assert [r["key"] for r in log.records()] == ["k2"]
    assert log.records() == []


def test_log_time_falls_back_to_now_for_an_unreadable_stamp():
    assert log_time("2026-12-07 14:30:00,000+0000") == 1796653800.0
    assert log_time(None) > 1.7e9


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        ("gave up after 3 receives: s3://b/k does not exist (yet)", "object missing, gave up"),
        ("k: cannot read as Parquet: Parquet magic bytes not found", "cannot read as Parquet"),
        ("s3://x/k: bucket x is not the Security Lake bucket y (nor ...)", "bucket not the lake's"),
        (
            "not a Security Lake notification (EventBridge ...): top-level keys",
            "not a notification",
        ),
        ("", "moved by the queue's redrive policy (no reason)"),
        (
            "access denied reading s3://lake/some/key (AccessDenied)",
            "access denied reading s3://… (AccessDenied)",
        ),
    ],
)
def test_reasons_are_grouped_without_their_object(reason, label):
    assert reason_class(reason) == label


def _note(i, kind, outcome, sent=100.0, done=0.0, rows=0, reason=""):
    return Notification(
        i,
        kind,
        "{}",
        key=f"k{i}",
        message_id=f"m{i}",
        sent_at=sent,
        outcome=outcome,
        done_at=done,
        rows=rows,
        reason=reason,
    )


def test_an_outcome_accounts_for_every_notification_sent():
    notes = [
        _note(0, "object", "scored", 100.0, 101.0, rows=1000),
        _note(1, "object", "scored", 100.5, 104.0, rows=3000),
        _note(2, "corrupt", "dead-lettered", reason="k: cannot read as Parquet: junk"),
        _note(3, "object", "", sent=101.0),  # never reported: unaccounted
        _note(4, "missing", "scored", done=102.0),  # scored, though bad: unexpected
        _note(5, "object", "", sent=0.0),  # past --max-seconds: never sent
    ]
    out = Outcome(rate=2, count=6, max_seconds=10, notifications=notes, started_at=100.0)
    out.samples = [
        Sample(0.0, 1, 0, 0, 1, 0),
        Sample(0.5, 2, 3, 1, 2, 1),
        Sample(1.0, 0, 0, 1, 5, 3),
    ]
    assert len(out.sent) == 5 and [n.index for n in out.unaccounted] == [3]
    assert [n.index for n in out.unexpected] == [4] and not out.ok
    assert out.span_s == 4.0 and out.objects_per_s == pytest.approx(3 / 4)
    assert out.rows_per_s == pytest.approx(4000 / 4) and out.peak_backlog == 5
    assert out.reasons() == {"cannot read as Parquet": 1}
    lines = out.lines()
    assert lines[0] == "dead letter: corrupt k2: k: cannot read as Parquet: junk"
    assert "sustained: 0.75 objects/s, 1,000 rows/s" in "\n".join(lines)
    assert "backlog: peak 5 messages (3 samples;" in "\n".join(lines)
    assert lines[-1] == (
        "notifications: 5 sent, 3 scored, 1 dead-lettered (reasons: cannot read as Parquet 1), "
        "1 unaccounted, 1 unexpected"
    )
    summary = out.summary()
    assert (summary["sent"], summary["unaccounted"], summary["unexpected"]) == (5, 1, 1)
    assert all("body" not in n for n in summary["notifications"])
    notes[3].outcome, notes[4].kind = "scored", "object"
    notes[3].done_at = 103.0
    assert out.ok


class SlowSQS:
    """A queue whose SendMessage reply comes late: the message is queued (and may be scored)
    before the call returns, as under load on the emulator."""

    def __init__(self, reply_s: float):
        self.reply_s, self.queued_at = reply_s, []

    def send_message(self, QueueUrl, MessageBody):
        self.queued_at.append(time.time())
        time.sleep(self.reply_s)
        return {"MessageId": f"m{len(self.queued_at)}"}


def test_a_notification_is_stamped_sent_no_later_than_it_was_queued():
    sqs = SlowSQS(reply_s=0.05)
    run = LoadTest(SimpleNamespace(queue_url="q"), rate=100, count=3, max_seconds=5)
    notes = [Notification(i, "object", f"body{i}") for i in range(3)]
    run._send(sqs, notes)
    assert [n.message_id for n in notes] == ["m1", "m2", "m3"]
    # a scorer's record of the message can only come after it was queued
    assert all(0 < n.sent_at <= queued for n, queued in zip(notes, sqs.queued_at, strict=True))
