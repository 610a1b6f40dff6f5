"""``lakewatch backtest`` end to end: a generated lake with its truth file, AWS-produced
objects laid out beside it, a corrupt object and a source lakewatch does not read; the
backtest runs once for the module and each test reads what it printed and wrote."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lakewatch.cli import main
from lakewatch.lake.truth import read_truth
from lakewatch.lake.validate import validate_record
from tests.conftest import SL_SAMPLES

pytestmark = pytest.mark.e2e

ACCOUNT = "111122223333"
SCORE_DAY = "20261104"
# a fast model: the defaults' schedule trains 2,000 steps whatever the window's size
FAST = ["--hp", "epochs=8", "--hp", "mini_batch_size=1000"]


def _place(lake: Path, source: str, version: str, day: str, name: str, body: bytes) -> Path:
    path = lake / f"aws/{source}/{version}/region=us-east-1/accountId={ACCOUNT}/eventDay={day}"
    path.mkdir(parents=True, exist_ok=True)
    (path / name).write_bytes(body)
    return path / name


def _samples(lake: Path) -> list[Path]:
    """The shared AWS-produced VPC Flow and Route 53 objects (one row each, 1.0) in the
    lake's layout on the score day, and the CloudTrail ones under a source lakewatch does
    not read."""
    if not SL_SAMPLES.is_dir():
        return []
    placed = []
    for source in ("VPC_FLOW", "ROUTE53"):
        for f in sorted((SL_SAMPLES / source).glob("*.parquet")):
            placed.append(_place(lake, source, "1.0", SCORE_DAY, f.name, f.read_bytes()))
    for f in sorted((SL_SAMPLES / "CLOUD_TRAIL" / "authentication").glob("*.parquet")):
        _place(lake, "CLOUD_TRAIL_MGMT", "1.0", SCORE_DAY, f.name, f.read_bytes())
    return placed


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def backtest(tmp_path_factory):
    root = tmp_path_factory.mktemp("backtest")
    lake, out, truth = root / "lake", root / "out", root / "truth.csv"
    args = ["lake", "generate", "--out", str(lake), "--days", "4", "--start", "2026-11-01"]
    args += ["--rows-per-day", "8000", "--accounts", "2", "--instances", "8"]
    assert main([*args, "--truth", str(truth)]) == 0
    samples = _samples(lake)
    corrupt = [
        _place(lake, "VPC_FLOW", "2.0", day, "corrupt.gz.parquet", b"PAR1 not parquet")
        for day in ("20261102", SCORE_DAY)
    ]
    before = _listing(lake)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(
            [
                "backtest",
                "--lake",
                str(lake),
                "--train-days",
                "2026-11-01..2026-11-03",
                "--score-days",
                "2026-11-04..2026-11-04",
                "--out",
                str(out),
                "--truth",
                str(truth),
                *FAST,
            ]
        )
    assert code == 0, printed.getvalue()
    return {
        "lake": lake,
        "out": out,
        "truth": truth,
        "printed": printed.getvalue(),
        "samples": samples,
        "corrupt": corrupt,
        "before": before,
        "summary": json.loads((out / "summary.json").read_text()),
    }


def test_prints_a_line_per_stage_and_the_closing_lines(backtest):
    lines = backtest["printed"].splitlines()
    assert [ln[:5] for ln in lines if ln.startswith("[")] == [f"[{n}/5]" for n in range(1, 6)]
    closing = lines[lines.index(next(ln for ln in lines if ln.startswith("findings: "))) :]
    n, incidents = map(
        int,
        re.fullmatch(r"findings: (\d+) \((\d+) incidents\) over 1 score days", closing[0]).groups(),
    )
    summary = backtest["summary"]
    assert incidents == summary["incidents"] and n == sum(
        v for k, v in summary["findings"].items() if k != "incident"
    )
    kinds = {row.kind for row in read_truth(backtest["truth"])}
    recall = {}
    for line in closing[1:-2]:
        kind, share, hit, of = re.fullmatch(
            r"(\w+): recall (\d+)% \((\d+) of (\d+)\)", line
        ).groups()
        assert int(hit) <= int(of) and int(share) == round(100 * int(hit) / int(of))
        recall[kind] = int(hit) / int(of)
    assert set(recall) == kinds  # every kind injected on the score day is reported
    assert re.fullmatch(r"findings: precision \d+% \((\d+) of (\d+)\)", closing[-2])
    found = re.fullmatch(
        r"incidents: precision \d+% \(\d+ of (\d+)\), recall \d+% \((\d+) of (\d+)\)", closing[-1]
    )
    assert found and int(found[1]) == incidents
    # a model that finds nothing would pass the shapes above: these it cannot
    assert recall["scan"] >= 0.5 and recall["exfiltration"] >= 0.5
    assert int(found[2]) >= int(found[3]) // 2


def test_findings_are_valid_ocsf_detection_findings(backtest):
    lines = (backtest["out"] / "findings.jsonl").read_text().splitlines()
    assert lines
    for line in lines:
        finding = json.loads(line)
        assert finding["class_uid"] == 2004
        assert validate_record(finding, "1.1.0") == [], finding
        source = finding["finding_info"]["data_sources"][0]
        assert source.startswith("file://") and "/aws/" in source


def test_every_row_of_the_aws_produced_objects_is_read(backtest):
    if not backtest["samples"]:
        pytest.skip(f"shared OCSF samples not present at {SL_SAMPLES}")
    summary = backtest["summary"]
    score_day = [
        p
        for p in backtest["lake"].rglob("*.parquet")
        if f"eventDay={SCORE_DAY}" in str(p)
        and ("/VPC_FLOW/" in str(p) or "/ROUTE53/" in str(p))
        and p.name != "corrupt.gz.parquet"
    ]
    assert set(backtest["samples"]) <= set(score_day)
    assert summary["rows"]["score"] == sum(pq.ParquetFile(p).metadata.num_rows for p in score_day)
    named = " ".join(summary["skipped"])
    assert not any(p.name in named for p in backtest["samples"])
    assert summary["skipped"]["aws/CLOUD_TRAIL_MGMT/"] == (
        "source CLOUD_TRAIL_MGMT is not one lakewatch reads"
    )
    assert summary["objects"]["VPC_FLOW"] >= 4 and summary["objects"]["ROUTE53"] >= 4


def test_a_corrupt_object_is_named_and_skipped_and_the_lake_is_untouched(backtest):
    summary = backtest["summary"]
    for path in backtest["corrupt"]:
        key = str(path.relative_to(backtest["lake"]))
        assert "cannot read as Parquet" in summary["skipped"][key]
        assert key in (backtest["out"] / "report.html").read_text()
    assert _listing(backtest["lake"]) == backtest["before"]


def test_writes_the_report_with_its_pictures(backtest):
    out = backtest["out"]
    page = (out / "report.html").read_text()
    for picture in ("threshold.png", "findings_by_day.png"):
        assert f'src="{picture}"' in page
        assert (out / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = backtest["summary"]
    assert set(summary["elapsed_s"]) == {"read", "extract", "train", "recalibrate", "score"}
    assert summary["threshold"]["target_fpr"] == 0.001
    assert summary["pairs"]["train"] > 1000 and summary["objects"]["VPC_FLOW"] > 0
    assert not list(out.glob(".*.tmp"))


def test_an_s3_lake_is_read_with_the_configured_backend(tmp_path, emulator_settings, monkeypatch):
    """``--lake s3://...`` lists and reads through the user's own settings (here the running
    emulator, as ``make up`` leaves it) and names each object by its S3 address."""
    monkeypatch.setenv("LAKEWATCH_EMULATOR_PORT", str(emulator_settings.emulator_port))
    bucket = "backtest-lake-copy"
    from lakewatch.backends import clients_for
    from lakewatch.local.bootstrap import ensure_bucket
    from lakewatch.settings import load_settings

    ensure_bucket(clients_for(load_settings())("s3"), bucket, "us-east-1")
    lake = f"s3://{bucket}/copy"
    args = ["lake", "generate", "--out", lake, "--days", "2", "--start", "2026-11-01"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*args, "--rows-per-day", "5000", "--accounts", "1", "--instances", "8"]) == 0
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(
            ["backtest", "--lake", lake, "--train-days", "2026-11-01", "--score-days",
             "2026-11-02", "--out", str(tmp_path), *FAST]
        )  # fmt: skip
    assert code == 0, printed.getvalue()
    assert re.search(
        r"^findings: \d+ \(\d+ incidents\) over 1 score days$", printed.getvalue(), re.M
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["rows"]["train"] > 0 and summary["rows"]["score"] > 0
    for line in (tmp_path / "findings.jsonl").read_text().splitlines():
        assert json.loads(line)["finding_info"]["data_sources"][0].startswith(f"{lake}/aws/")


def test_a_threshold_the_gate_refuses_is_used_and_reported(tmp_path, monkeypatch):
    """lakewatch_recalibrate would not publish it; a backtest still shows what it finds, and
    says so on screen, in summary.json and in the report."""
    import functools

    from lakewatch.threshold import recalibrate

    monkeypatch.setattr(
        recalibrate, "Options", functools.partial(recalibrate.Options, min_auc=0.9999)
    )
    lake = tmp_path / "lake"
    args = ["lake", "generate", "--out", str(lake), "--days", "2", "--start", "2026-11-01"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*args, "--rows-per-day", "5000", "--accounts", "1", "--instances", "8"]) == 0
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(
            ["backtest", "--lake", str(lake), "--train-days", "2026-11-01", "--score-days",
             "2026-11-02", "--out", str(tmp_path / "out"), *FAST]
        )  # fmt: skip
    assert code == 0, printed.getvalue()
    assert "REFUSED by the gate (AUC" in printed.getvalue()
    summary = json.loads((tmp_path / "out/summary.json").read_text())
    assert "is below the floor" in summary["threshold"]["refused"][0]
    assert "REFUSED: AUC" in (tmp_path / "out/report.html").read_text()
