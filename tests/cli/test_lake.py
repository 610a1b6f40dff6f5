"""``lakewatch lake``: generate a small lake into a folder (CloudTrail by default, churn and
RCF's kinds when asked, the other truth rows unchanged by them) and validate it; a record that
breaks OCSF is named with its object and the exit code says so; bad options never start."""

import json
from datetime import date

import pytest

from lakewatch.cli import main
from lakewatch.lake.layout import Source, object_key
from lakewatch.lake.records import vpc_egress_row, vpc_table
from lakewatch.lake.synthetic import RCF_KINDS, SIGNIN_KINDS
from lakewatch.lake.truth import read_truth
from lakewatch.lake.write import parquet_bytes


def test_generate_then_validate_a_folder(tmp_path, capsys):
    out = tmp_path / "lake"
    argv = ["--days", "1", "--start", "2026-11-05", "--rows-per-day", "2000", "--accounts", "1"]
    truth = tmp_path / "truth.csv"
    assert (
        main(
            [
                "lake",
                "generate",
                "--out",
                str(out),
                *argv,
                "--instances",
                "8",
                "--truth",
                str(truth),
            ]
        )
        == 0
    )
    assert "objects" in capsys.readouterr().out
    assert any(out.glob("aws/VPC_FLOW/2.0/region=us-east-1/accountId=*/eventDay=20261105/*"))
    # CloudTrail by default, its truth rows naming principals
    assert any(
        out.glob(
            "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=*/eventDay=20261105/*.gz.parquet"
        )
    )
    rows = read_truth(truth)
    signin = [r for r in rows if r.kind in SIGNIN_KINDS]
    assert {r.kind for r in signin} == set(SIGNIN_KINDS)
    assert all(r.entity.startswith(("arn:aws:iam::", "sso:")) and r.address for r in signin)
    assert main(["lake", "validate", str(out), "--sample", "50"]) == 0
    assert capsys.readouterr().out.strip().endswith(": 0 violations")


def test_no_cloudtrail_and_churn(tmp_path, capsys):
    out = tmp_path / "lake"
    argv = ["--days", "2", "--start", "2026-11-05", "--rows-per-day", "2000", "--accounts", "1"]
    argv += ["--instances", "8", "--no-cloudtrail", "--churn", "0.5"]
    assert main(["lake", "generate", "--out", str(out), *argv]) == 0
    assert "CLOUD_TRAIL_MGMT" not in capsys.readouterr().out
    assert not list(out.glob("aws/CLOUD_TRAIL_MGMT/**/*.parquet"))
    world = json.loads((out / "lakewatch-ground-truth/world.json").read_text())
    assert world["churn"] == 0.5 and set(world["instance_ids"]) == {"20261105", "20261106"}
    first, second = (world["instance_ids"][d] for d in ("20261105", "20261106"))
    assert [x["uid"] for x in first] != [x["uid"] for x in second]  # half replaced each day


def test_rcf_anomalies_add_their_truth_rows_and_leave_the_others(tmp_path, capsys):
    argv = ["--days", "1", "--start", "2026-11-05", "--rows-per-day", "2000", "--accounts", "1"]
    argv += ["--instances", "8", "--no-cloudtrail"]
    truths = []
    for name, flag in (("off", []), ("on", ["--rcf-anomalies"])):
        truth = tmp_path / f"{name}.csv"
        out = tmp_path / name
        assert (
            main(["lake", "generate", "--out", str(out), *argv, *flag, "--truth", str(truth)]) == 0
        )
        truths.append([r.to_csv() for r in read_truth(truth)])
    off, on = truths
    assert {r[0] for r in off}.isdisjoint(RCF_KINDS)
    assert [r for r in on if r[0] not in RCF_KINDS] == off
    assert {r[0] for r in on if r[0] in RCF_KINDS} == set(RCF_KINDS)
    assert main(["lake", "validate", str(tmp_path / "on"), "--sample", "200"]) == 0


def test_a_record_breaking_ocsf_is_named(tmp_path, capsys):
    row = vpc_egress_row(
        instance_uid="i-1",
        src_ip="10.0.0.1",
        dst_ip="198.51.100.1",
        dst_port=443,
        time_ms=1_764_460_800_000,
        account_id="111122223333",
        region="us-east-1",
    )
    row["class_uid"] = 9999  # not Network Activity
    key = object_key(
        Source.VPC_FLOW, "2.0", "us-east-1", "111122223333", date(2026, 11, 5), "bad.gz.parquet"
    )
    (tmp_path / key).parent.mkdir(parents=True)
    (tmp_path / key).write_bytes(parquet_bytes(vpc_table([row])))
    assert main(["lake", "validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert key in out and "class_uid" in out and out.strip().endswith("1 violations")


def test_bad_arguments_are_refused(capsys):
    with pytest.raises(SystemExit):
        main(["lake", "generate", "--out", "x", "--days", "0"])
    assert "must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["lake", "generate", "--out", "x", "--days", "1", "--churn", "1.2"])
    assert "not between 0 and 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["lake", "generate", "--out", "x", "--days", "1", "--cloudtrail-share", "0.9"])
    assert "not between 0 and 0.5" in capsys.readouterr().err
