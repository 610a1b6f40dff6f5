"""The label store on the emulator: append-only under concurrency, and clear refusals."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest

from lakewatch.review import feedback
from lakewatch.review.desk import Desk
from lakewatch.review.rows import FindingNotFound


def _label(k: int) -> feedback.Label:
    return feedback.Label(
        finding_uid="f1",
        verdict="false_positive" if k % 2 else "true_positive",
        entity="i-1",
        ip="10.0.0.1",
        view="egress_peer",
        day="2026-11-30",
        note=f"analyst {k}",
        who=f"analyst-{k}",
        when=datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC).isoformat(),  # the same instant
    )


def test_concurrent_labels_all_land(reviewed):
    settings, store, _ = reviewed
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(
            pool.map(
                lambda k: feedback.add_label(store, settings.feedback_prefix, _label(k)), range(24)
            )
        )
    assert len(set(keys)) == 24  # one object each, even at the same instant
    stored = feedback.labels(store, settings.feedback_prefix)
    assert sorted(lab.who for lab in stored) == sorted(f"analyst-{k}" for k in range(24))


def test_refusals_name_what_was_wrong_and_store_nothing(reviewed):
    settings, store, _ = reviewed
    desk = Desk(store, settings.findings_prefix, settings.feedback_prefix)
    with pytest.raises(FindingNotFound, match="0 findings match 'nope'"):
        desk.label(date(2026, 11, 30), "nope", "false_positive", "", "alice")
    with pytest.raises(ValueError, match="verdict must be one of true_positive, false_positive"):
        desk.label(date(2026, 11, 30), reviewed[2][0][:10], "maybe", "", "alice")
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        desk.suppress("i-1", None, "10.0.0.0/33", None, 3, "", "alice")
    with pytest.raises(ValueError, match="--days must be at least 1, not -2"):
        desk.suppress("i-1", "10.0.0.1", None, None, -2, "", "alice")  # expiry in the past
    with pytest.raises(ValueError, match="view must be one of"):
        desk.suppress("i-1", "10.0.0.1", None, "dns_resolved", 3, "", "alice")
    assert list(store.list(settings.feedback_prefix)) == []


def test_an_expired_suppression_no_longer_applies(reviewed):
    settings, store, _ = reviewed
    then = datetime.now(UTC) - timedelta(days=10)
    old = feedback.suppression_for("i-1", "10.0.0.1", None, None, 3, "", "alice", now=then)
    feedback.add_suppression(store, settings.feedback_prefix, old)
    assert feedback.suppressions(store, settings.feedback_prefix, now=datetime.now(UTC)) == []
    assert feedback.suppressions(store, settings.feedback_prefix, now=then) == [old]
    assert feedback.suppressions(store, settings.feedback_prefix) == [old]  # every one, kept
