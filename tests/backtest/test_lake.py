"""A lake copy as the backtest reads it, and the bad inputs it refuses with what it looked
for: no Security Lake objects, days with none, overlapping windows, a truth row that does not
parse, a corrupt object (skipped, not fatal)."""

from __future__ import annotations

import contextlib
import io
from datetime import date

import pytest

from lakewatch.backtest.lake import LakeError, check_days, index_lake, parse_days, spans
from lakewatch.cli import main
from lakewatch.extract.engine import LakeLocation

ACCOUNT = "111122223333"


def _object(root, source="VPC_FLOW", version="2.0", day="20261101", name="a.gz.parquet"):
    folder = root / f"aws/{source}/{version}/region=us-east-1/accountId={ACCOUNT}/eventDay={day}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(b"PAR1")
    return folder / name


def _backtest(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["backtest", *args])
    return code, err.getvalue()


def test_the_index_finds_partitions_and_lists_only_the_days_read(tmp_path):
    _object(tmp_path, "VPC_FLOW", "1.0", "20261101")
    _object(tmp_path, "ROUTE53", "2.0", "20261102")
    _object(tmp_path, "SH_FINDINGS", "2.0", "20261102")
    _object(tmp_path, "CLOUD_TRAIL_MGMT", "2.0", "20261102")
    _object(tmp_path, "VPC_FLOW", "3.0", "20261102")
    (tmp_path / "aws/VPC_FLOW/1.0/region=us-east-1/notes").mkdir()
    day2 = tmp_path / f"aws/ROUTE53/2.0/region=us-east-1/accountId={ACCOUNT}/eventDay=20261102"
    (day2 / "manifest.json").write_text("{}")
    index = index_lake(LakeLocation.open(str(tmp_path)), "lake")
    assert index.days() == [date(2026, 11, 1), date(2026, 11, 2)]
    assert [(o.key.source, o.key.version) for o in index.on(date(2026, 11, 1))] == [
        ("VPC_FLOW", "1.0")
    ]
    assert [o.key.source for o in index.evidence_on(date(2026, 11, 2))] == ["SH_FINDINGS"]
    assert index.regions() == {"us-east-1": 3}
    assert index.skipped == {
        "aws/CLOUD_TRAIL_MGMT/": "source CLOUD_TRAIL_MGMT is not one lakewatch reads",
        "aws/VPC_FLOW/3.0/": "unknown source version 3.0 (reads 1.0 and 2.0)",
        "aws/VPC_FLOW/1.0/region=us-east-1/notes/": (
            "not a Security Lake partition folder (expected accountId=...)"
        ),
    }
    assert [o.key.source for o in index.on(date(2026, 11, 2))] == ["ROUTE53"]
    assert (
        "not a Security Lake data object"
        in index.skipped[str(day2.relative_to(tmp_path)) + "/manifest.json"]
    )


def test_cloudtrail_is_read_when_the_pair_set_has_sign_ins(tmp_path):
    from lakewatch.scoring.process import scored_sources

    _object(tmp_path, "VPC_FLOW", "2.0", "20261101")
    _object(tmp_path, "CLOUD_TRAIL_MGMT", "2.0", "20261101")
    index = index_lake(
        LakeLocation.open(str(tmp_path)), "lake", scored_sources("egress_peer+signin")
    )
    assert sorted(o.key.source for o in index.on(date(2026, 11, 1))) == [
        "CLOUD_TRAIL_MGMT",
        "VPC_FLOW",
    ]
    assert index.skipped == {}


def test_a_folder_without_security_lake_objects_says_what_layout_was_looked_for(tmp_path):
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows/x.parquet").write_bytes(b"PAR1")
    code, err = _backtest(
        "--lake", str(tmp_path), "--train-days", "2026-11-01..2026-11-02",
        "--score-days", "2026-11-03..2026-11-03", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 2
    assert "no VPC_FLOW or ROUTE53 objects" in err and "region=<r>/accountId=" in err
    assert not (tmp_path / "out").exists()


def test_days_without_objects_list_the_days_present(tmp_path):
    for day in ("20261101", "20261102", "20261103", "20261106"):
        _object(tmp_path, day=day)
    index = index_lake(LakeLocation.open(str(tmp_path)), "lake")
    with pytest.raises(LakeError) as err:
        check_days(
            index,
            parse_days("2026-11-01..2026-11-02", "t"),
            parse_days("2026-11-04..2026-11-05", "s"),
        )
    assert "--score-days: no VPC_FLOW or ROUTE53 objects on 2026-11-04..2026-11-05" in str(
        err.value
    )
    assert "days present: 2026-11-01..2026-11-03, 2026-11-06" in str(err.value)


def test_overlapping_train_and_score_days_are_refused(tmp_path):
    for day in ("20261101", "20261102", "20261103"):
        _object(tmp_path, day=day)
    code, err = _backtest(
        "--lake", str(tmp_path), "--train-days", "2026-11-01..2026-11-02",
        "--score-days", "2026-11-02..2026-11-03", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 2 and "overlap on 2026-11-02" in err


def test_a_truth_row_that_does_not_parse_names_the_file_and_line(tmp_path):
    _object(tmp_path, day="20261101")
    _object(tmp_path, day="20261102")
    truth = tmp_path / "truth.csv"
    truth.write_text(
        "kind,entity,address,start,end\n"
        "scan,,10.0.0.1,2026-11-02T00:00:00Z,2026-11-02T01:00:00Z\n"
        "scan,i-1,10.0.0.999,2026-11-02T00:00:00Z,2026-11-02T01:00:00Z\n"
    )
    code, err = _backtest(
        "--lake", str(tmp_path), "--train-days", "2026-11-01", "--score-days", "2026-11-02",
        "--out", str(tmp_path / "out"), "--truth", str(truth),
    )  # fmt: skip
    assert code == 2 and f"{truth}, line 3: address '10.0.0.999'" in err


@pytest.mark.parametrize(
    ("text", "why"),
    [("2026-11-01..2026-10-30", "ends before it starts"), ("last week", "not FIRST..LAST")],
)
def test_bad_day_ranges(text, why):
    with pytest.raises(LakeError, match=why):
        parse_days(text, "--train-days")


def test_days_and_spans():
    days = parse_days("2026-11-01..2026-11-03", "x")
    assert days == [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]
    assert parse_days("2026-11-05", "x") == [date(2026, 11, 5)]
    assert spans([*days, date(2026, 11, 7)]) == "2026-11-01..2026-11-03, 2026-11-07"


def test_a_missing_folder_or_another_scheme_is_refused(tmp_path):
    for lake, why in ((str(tmp_path / "nope"), "no such folder"), ("gs://b/x", "use a folder")):
        code, err = _backtest(
            "--lake", lake, "--train-days", "2026-11-01", "--score-days", "2026-11-02",
            "--out", str(tmp_path / "out"),
        )  # fmt: skip
        assert code == 2 and why in err
