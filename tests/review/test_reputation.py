"""IP reputation: a user's list raises findings on addresses it names; bad lines are counted,
reported with their number, and skipped."""

from lakewatch.lake.layout import parse_key
from lakewatch.review.reputation import Reputation
from lakewatch.review.rows import rank, row_of
from lakewatch.scoring.pair_findings import ScoredPair, make_finding
from lakewatch.threshold.published import PublishedThreshold

SOURCE = parse_key(
    "aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=20261130/part-1.parquet"
)
THRESHOLD = PublishedThreshold(threshold=-1.9, model_id="ipi-x", scale=1.0, target_fpr=0.001)
LIST = """# cidr,score,source
45.110.0.0/16,40,feed-a
45.110.185.181,95,feed-b
10.0.0.0/8,not-a-number
2001:db8::/32,70
300.1.1.1,5
45.1.1.1,101
"""


def test_the_most_specific_range_wins_and_bad_lines_are_named():
    rep = Reputation.parse(LIST, "rep.csv")
    assert rep.entries == 3
    assert [b.split(":")[0] for b in rep.bad_lines] == [
        "rep.csv line 4",
        "rep.csv line 6",
        "rep.csv line 7",
    ]
    assert rep.lookup("45.110.185.181").score == 95
    assert rep.lookup("45.110.185.182").cidr == "45.110.0.0/16"
    assert rep.lookup("2001:db8::1").score == 70
    assert rep.lookup("8.8.8.8") is None and rep.lookup("not an ip") is None
    assert rep.worst(["45.110.9.9", "45.110.185.181"]).source == "feed-b"


def _finding(ip: str, score: float):
    pair = ScoredPair("i-1", ip, "egress_peer", score, True, 1, 1_000, 2_000)
    return make_finding(
        pair, "anomalous_pair", threshold=THRESHOLD, source=SOURCE, bucket="b", now_ms=3_000
    )


def test_a_listed_address_outranks_a_more_severe_unlisted_one():
    medium = _finding("8.8.4.4", -3.2)  # severity 3
    low = _finding("45.110.185.181", -2.0)  # severity 2, on the list at 95
    rows = [row_of(f, "2026-11-30") for f in (low, medium)]
    plain = rank(rows)
    assert [r.addresses[0] for r in plain] == ["8.8.4.4", "45.110.185.181"]
    enriched = rank(rows, Reputation.parse(LIST))
    assert [r.addresses[0] for r in enriched] == ["45.110.185.181", "8.8.4.4"]
    assert enriched[0].reputation == 95 and enriched[0].reputation_source == "feed-b"
    assert enriched[1].reputation is None
