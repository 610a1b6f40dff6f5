"""review.rows: a finding read back as a review row (its kind, pairs, score and source), a
day's files found among every account's, rows ranked by severity and score with a finding
written twice listed once, and uid prefixes that must be unambiguous."""

from datetime import UTC, date, datetime

import pytest

from lakewatch.lake.layout import parse_key
from lakewatch.lake.sink import LocalStore
from lakewatch.review.rows import FindingNotFound, day_keys, find, rank, read_day, row_of
from lakewatch.scoring.pair_findings import ScoredPair, make_finding
from lakewatch.scoring.storage import findings_key, to_parquet
from lakewatch.threshold.published import PublishedThreshold

THRESHOLD = PublishedThreshold(threshold=-1.0, model_id="ipi-x", scale=1.0, target_fpr=0.001)
START = int(datetime(2026, 11, 30, 3, tzinfo=UTC).timestamp() * 1000)


def _key(account: str, day: str):
    return parse_key(
        f"aws/VPC_FLOW/2.0/region=us-east-1/accountId={account}/eventDay={day}/part.parquet"
    )


def _finding(entity: str, ip: str, score: float, source):
    pair = ScoredPair(entity, ip, "egress_peer", score, True, 2, START, START + 1)
    return make_finding(
        pair, "anomalous_pair", threshold=THRESHOLD, source=source, bucket="lake", now_ms=START
    )


def test_a_row_carries_what_an_analyst_needs():
    source = _key("111122223333", "20261130")
    row = row_of(_finding("i-1", "198.51.100.7", -4.0, source), "2026-11-30")
    assert (row.instances, row.addresses, row.view) == (("i-1",), ("198.51.100.7",), "egress_peer")
    assert row.kind == "anomalous_pair" and row.model_id == "ipi-x"
    assert row.score == -4.0 and row.threshold == -1.0 and row.count == 2
    assert "111122223333" in row.source_object and row.start_time == START
    assert row.as_dict()["addresses"] == ["198.51.100.7"]


def test_a_days_files_across_accounts_ranked_and_deduplicated(tmp_path):
    store = LocalStore(tmp_path)
    a, b, other = (
        _key("111111111111", "20261130"),
        _key("222222222222", "20261130"),
        _key("111111111111", "20261129"),
    )
    far, near = _finding("i-1", "198.51.100.7", -9.0, a), _finding("i-2", "203.0.113.5", -1.5, b)
    store.put(findings_key("ext/", a, "ipi-x"), to_parquet([far]))
    store.put(findings_key("ext/", b, "ipi-x"), to_parquet([near, near]))  # scored twice
    store.put(
        findings_key("ext/", other, "ipi-x"), to_parquet([_finding("i-3", "1.1.1.1", -9, other)])
    )
    day = date(2026, 11, 30)
    assert len(day_keys(store, "ext/", day)) == 2
    found = read_day(store, "ext/", day)
    rows = rank([row_of(f, day.isoformat()) for f in found])
    assert [r.instances[0] for r in rows] == ["i-1", "i-2"]  # more severe, lower score first
    assert rows[0].severity_id >= rows[1].severity_id


def test_rcf_rows_rank_the_highest_score_first():
    """An RCF score grows with the anomaly (IP Insights' falls): within a severity the
    review lists the highest RCF score first."""
    from dataclasses import replace

    source = _key("111111111111", "20261130")
    base = row_of(_finding("i-1", "198.51.100.7", -4.0, source), "2026-11-30")
    low, high = (
        replace(base, uid=f"rcf-{s}", kind="rcf", score=s, severity_id=3) for s in (1.7, 2.4)
    )
    assert [r.uid for r in rank([low, high])] == ["rcf-2.4", "rcf-1.7"]
    lower = replace(base, uid="ipi-low", score=-6.0, severity_id=3)
    higher = replace(base, uid="ipi-high", score=-2.0, severity_id=3)
    assert [r.uid for r in rank([higher, lower])] == ["ipi-low", "ipi-high"]  # as before


def test_uid_prefixes_must_name_one_finding():
    source = _key("111111111111", "20261130")
    found = [_finding("i-1", "198.51.100.7", -4.0, source), _finding("i-2", "1.2.3.4", -4, source)]
    uid = found[0]["finding_info"]["uid"]
    assert find(found, uid[:12]) is found[0]
    with pytest.raises(FindingNotFound, match="2 findings match '': give more of the uid"):
        find(found, "")
    with pytest.raises(FindingNotFound, match="0 findings match 'zzz'"):
        find(found, "zzz")


def _evidence(instance, address, at, title="Backdoor:EC2/C&CActivity.B"):
    from lakewatch.lake.security_hub import Evidence

    return Evidence("gd-1", title, (title,), 4, at, (instance,), (address,), "s3://lake/sh")


def test_security_hub_findings_raise_the_rows_they_name_near_their_time(tmp_path):
    source = _key("111122223333", "20261130")
    found = [
        _finding("i-1", "198.51.100.7", -9.0, source),  # most severe by score alone
        _finding("i-2", "203.0.113.5", -1.5, source),
        _finding("i-3", "192.0.2.1", -1.5, source),
    ]
    day = date(2026, 11, 30)
    rows = [row_of(f, day.isoformat()) for f in found]
    assert rank(rows)[0].instances[0] == "i-1"
    evidence = [
        _evidence("i-9", "203.0.113.5", START + 600_000, "on its address"),  # address: +2
        _evidence("i-3", "8.8.8.8", START + 600_000, "on its instance"),  # instance only: +1
        _evidence("i-1", "198.51.100.7", START + 7 * 3_600_000, "hours later"),  # too far
    ]
    rows = rank(rows, evidence=evidence)
    by = {r.instances[0]: r for r in rows}
    assert by["i-2"].corroborated_by == ("on its address",) and by["i-2"].corroboration == 2.0
    assert by["i-3"].corroborated_by == ("on its instance",) and by["i-3"].corroboration == 1.0
    assert by["i-1"].corroborated_by == () and by["i-1"].corroboration == 0.0
    assert by["i-2"].priority == by["i-2"].severity_id + 2.0
    assert rows == sorted(rows, key=lambda r: -r.priority)
    assert by["i-2"].as_dict()["corroborated_by"] == ["on its address"]
