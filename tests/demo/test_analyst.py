"""demo.analyst: the scripted analyst labels the day's first false positives (never an injected
anomaly, never an incident) through the desk and suppresses the next; the feedback lines say
what the next day looked like."""

from datetime import UTC, date, datetime

from lakewatch.demo.analyst import Review, feedback_lines, review_day
from lakewatch.lake.layout import parse_key
from lakewatch.lake.sink import LocalStore
from lakewatch.review import feedback
from lakewatch.review.desk import Desk
from lakewatch.scoring.pair_findings import ScoredPair, make_finding
from lakewatch.scoring.storage import findings_key, to_parquet
from lakewatch.threshold.published import PublishedThreshold

DAY = date(2026, 11, 30)
SOURCE = parse_key(
    "aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=20261130/x.parquet"
)
THRESHOLD = PublishedThreshold(threshold=-1.0, model_id="ipi-x", scale=1.0, target_fpr=0.001)
START = int(datetime(2026, 11, 30, 3, tzinfo=UTC).timestamp() * 1000)


def _finding(entity, ip, score, view="egress_peer"):
    pair = ScoredPair(entity, ip, view, score, True, 1, START, START)
    return make_finding(
        pair, "anomalous_pair", threshold=THRESHOLD, source=SOURCE, bucket="lake", now_ms=START
    )


def _truth(entity, ip, kind="c2_beacon", view="egress_peer"):
    return {"kind": kind, "view": view, "entity": entity, "ip": ip}


def test_the_analyst_labels_false_positives_and_suppresses_the_next(tmp_path):
    store = LocalStore(tmp_path)
    findings = [
        _finding("i-1", "45.0.0.1", -9.0),  # injected: left alone
        _finding("i-2", "52.0.0.1", -5.0),
        _finding("i-3/in", "10.0.0.9", -4.0, view="ingress_peer"),
        _finding("i-4", "52.0.0.4", -3.0),
        _finding("i-4", "52.0.0.4", -3.0),  # the same pair written twice is one
        _finding("i-6", "52.0.0.6", -2.0),
    ]
    store.put(findings_key("ext/", SOURCE, "ipi-x"), to_parquet(findings))
    desk = Desk(store, "ext/", "feedback/")
    review = review_day(desk, DAY, [_truth("i-1", "45.0.0.1")], labels=2)
    assert review.false_positives == 4
    assert review.unreviewed == [("egress_peer", "i-6", "52.0.0.6")]
    assert review.labelled == [
        ("egress_peer", "i-2", "52.0.0.1"),
        ("ingress_peer", "i-3/in", "10.0.0.9"),
    ]
    assert review.suppressed == ("egress_peer", "i-4", "52.0.0.4")
    labels = feedback.labelled_pairs(store, "feedback/")
    assert labels["false_positive"] == [("i-2", "52.0.0.1"), ("i-3/in", "10.0.0.9")]
    [suppression] = feedback.suppressions(store, "feedback/")
    assert suppression.covers("i-4", "52.0.0.4", "egress_peer")
    again = review_day(desk, DAY, [_truth("i-1", "45.0.0.1")], labels=2)
    # what is labelled is not labelled twice: only the unlabelled one is left to label
    assert again.labelled == [
        ("egress_peer", "i-4", "52.0.0.4"),
        ("egress_peer", "i-6", "52.0.0.6"),
    ]


def test_feedback_lines_compare_the_two_days():
    review = Review(
        labelled=[("egress_peer", "i-2", "52.0.0.1")],
        suppressed=("egress_peer", "i-4", "52.0.0.4"),
        unreviewed=[("egress_peer", "i-7", "52.0.0.7")],
        false_positives=3,
    )
    first = [_finding("i-1", "45.0.0.1", -9), _finding("i-2", "52.0.0.1", -5)]
    second = [
        _finding("i-9", "45.0.0.9", -9),
        _finding("i-4", "52.0.0.4", -5),
        _finding("i-7", "52.0.0.7", -5),
    ]
    lines = feedback_lines(
        review, first, [_truth("i-1", "45.0.0.1")], second, [_truth("i-9", "45.0.0.9")]
    )
    assert lines[0] == (
        "feedback: the analyst labelled 1 of the live day's 3 false-positive pairs and suppressed 1"
    )
    assert lines[1] == (
        "  flagged again the next day: 0 of the 1 labelled false positives, 1 of the 1 left "
        "unlabelled; the suppressed pair: flagged"
    )
    assert lines[2].endswith(
        "1 on the live day, 2 the next; recall of injected pairs: 100% (1) and 100% (1)"
    )
