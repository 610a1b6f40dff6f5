"""``lakewatch findings``: a day's findings read back, labelled, suppressed and exported, on the
emulator; labels and suppressions are append-only data that never overwrite each other."""

import json
from datetime import UTC, datetime, timedelta

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lakewatch.cli import main
from lakewatch.review import feedback


def _label(uid: str, verdict: str, *extra: str) -> int:
    return main(
        ["findings", "label", uid[:10], "--day", "2026-11-30", "--verdict", verdict, *extra]
    )


def test_list_ranks_the_days_findings_and_label_records_a_verdict(reviewed, capsys):
    settings, store, (worst, mild) = reviewed
    assert main(["findings", "list", "--day", "2026-11-30", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["uid"] for r in rows] == [worst, mild]  # most severe first
    assert rows[0]["addresses"] == ["45.110.185.181"] and rows[0]["verdict"] is None
    assert rows[1]["view"] == "ingress_peer" and rows[1]["instances"] == ["i-2"]

    assert _label(mild, "false_positive", "--note", "backup server") == 0
    assert _label(mild, "true_positive", "--who", "bob") == 0
    labels = feedback.labels(store, settings.feedback_prefix)
    assert [(lab.verdict, lab.who) for lab in labels] == [
        ("false_positive", "alice"),
        ("true_positive", "bob"),
    ]  # both kept, oldest first
    assert labels[0].entity == "i-2/in" and labels[0].ip == "10.9.8.7"
    assert labels[0].note == "backup server"
    capsys.readouterr()
    main(["findings", "list", "--day", "2026-11-30", "--json"])
    assert json.loads(capsys.readouterr().out)[1]["verdict"] == "true_positive"  # latest wins

    assert main(["findings", "show", worst[:8], "--day", "2026-11-30"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["finding"]["finding_info"]["uid"] == worst and shown["labels"] == []


def test_an_unknown_or_ambiguous_id_is_a_clear_error(reviewed, capsys):
    assert main(["findings", "show", "zzzz", "--day", "2026-11-30"]) == 2
    assert "0 findings match 'zzzz'" in capsys.readouterr().err
    assert main(["findings", "label", "", "--day", "2026-11-30", "--verdict", "true_positive"]) == 2
    assert "2 findings match ''" in capsys.readouterr().err


def test_suppressions_cover_their_entity_range_view_and_expire(reviewed, capsys):
    settings, store, _ = reviewed
    assert (
        main(
            [
                "findings",
                "suppress",
                "--entity",
                "i-1",
                "--cidr",
                "45.110.185.0/24",
                "--view",
                "egress_peer",
                "--days",
                "7",
                "--note",
                "CDN",
            ]
        )
        == 0
    )
    assert "suppressed 45.110.185.0/24 for i-1 in egress_peer" in capsys.readouterr().out
    (s,) = feedback.suppressions(store, settings.feedback_prefix, datetime.now(UTC))
    assert s.who == "alice" and s.note == "CDN"
    assert s.covers("i-1", "45.110.185.181", "egress_peer")
    assert not s.covers("i-1", "45.110.186.1", "egress_peer")
    assert not s.covers("i-1", "45.110.185.181", "ingress_peer")
    assert not s.covers("i-9", "45.110.185.181", "egress_peer")
    later = datetime.now(UTC) + timedelta(days=8)
    assert feedback.suppressions(store, settings.feedback_prefix, later) == []
    assert (
        main(["findings", "suppress", "--entity", "i-1", "--address", "300.1.1.1", "--days", "1"])
        == 2
    )
    assert (
        main(["findings", "suppress", "--entity", "i-1", "--address", "1.1.1.1", "--days", "0"])
        == 2
    )
    err = capsys.readouterr().err
    assert "'300.1.1.1' does not appear to be an IPv4 or IPv6 network" in err
    assert "--days must be at least 1, not 0" in err
    assert len(feedback.suppressions(store, settings.feedback_prefix)) == 1  # nothing stored


def test_export_writes_csv_and_parquet_with_verdicts(reviewed, tmp_path):
    _, _, (worst, mild) = reviewed
    _label(worst, "true_positive")
    csv_out, pq_out = tmp_path / "f.csv", tmp_path / "f.parquet"
    assert main(["findings", "export", "--day", "2026-11-30", "--out", str(csv_out)]) == 0
    assert main(["findings", "export", "--day", "2026-11-30", "--out", str(pq_out)]) == 0
    for table in (pacsv.read_csv(csv_out), pq.read_table(pq_out)):
        rows = table.to_pylist()
        assert [r["uid"] for r in rows] == [worst, mild]
        assert [r["verdict"] or None for r in rows] == ["true_positive", None]  # CSV: ""
    assert (
        main(["findings", "export", "--day", "2026-11-30", "--out", str(tmp_path / "f.txt")]) == 2
    )
    assert not (tmp_path / "f.txt").exists()
    assert not list(tmp_path.glob(".*partial"))  # nothing half-written left behind


def test_list_ranks_with_a_reputation_list_from_a_file_or_s3(reviewed, tmp_path, capsys):
    settings, store, (worst, mild) = reviewed
    text = "10.9.8.0/24,80,internal-honeypot\nnot-a-range,10\n"
    path = tmp_path / "rep.csv"
    path.write_text(text)
    store.put("reputation/list.csv", text.encode())
    for where in (str(path), f"s3://{settings.results_bucket_name}/reputation/list.csv"):
        assert (
            main(["findings", "list", "--day", "2026-11-30", "--json", "--reputation", where]) == 0
        )
        captured = capsys.readouterr()
        rows = {r["uid"]: r for r in json.loads(captured.out)}
        assert rows[mild]["reputation"] == 80 and rows[mild]["reputation_cidr"] == "10.9.8.0/24"
        assert rows[worst]["reputation"] is None
        assert f"skipped: {where} line 2" in captured.err


def test_list_shows_security_hub_findings_that_corroborate(reviewed, clients, capsys, monkeypatch):
    from tests.review.conftest import lake_with_guardduty

    settings, _, (worst, mild) = reviewed
    monkeypatch.setenv("LAKEWATCH_LAKE_BUCKET", settings.lake_bucket_name)
    lake_with_guardduty(clients, settings, "i-2", "10.9.8.7")
    assert main(["findings", "list", "--day", "2026-11-30"]) == 0
    out = capsys.readouterr()
    line = next(line for line in out.out.splitlines() if line.startswith(mild[:12]))
    assert line.endswith("security hub: Recon on i-2") and out.err == ""
    assert main(["findings", "list", "--day", "2026-11-30", "--json"]) == 0
    rows = {r["uid"]: r for r in json.loads(capsys.readouterr().out)}
    assert (
        rows[mild]["corroborated_by"] == ["Recon on i-2"] and rows[worst]["corroborated_by"] == []
    )


def test_list_without_a_readable_lake_ranks_and_says_why(reviewed, capsys, monkeypatch):
    monkeypatch.setenv("LAKEWATCH_LAKE_BUCKET", "no-such-lake")
    assert main(["findings", "list", "--day", "2026-11-30"]) == 0
    out = capsys.readouterr()
    assert (
        "2 finding(s)" in out.out
        and "Security Hub findings not read from s3://no-such-lake" in out.err
    )


def test_table_creates_then_updates_and_refuses_a_disagreeing_table(
    reviewed, clients, capsys, monkeypatch
):
    import uuid

    database = f"lw_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("LAKEWATCH_FINDINGS_DATABASE", database)
    assert main(["findings", "table", "--accounts", "111122223333", "--since", "20261101"]) == 0
    assert capsys.readouterr().out.startswith(f"created {database}.lakewatch_findings over s3://")
    assert main(["findings", "table", "--accounts", "111122223333,444455556666"]) == 0
    assert capsys.readouterr().out.startswith("updated")
    glue = clients("glue")
    glue.update_table(
        DatabaseName=database,
        TableInput={
            "Name": "lakewatch_findings",
            "StorageDescriptor": {"Columns": [{"Name": "time", "Type": "string"}]},
        },
    )
    assert main(["findings", "table"]) == 1
    err = capsys.readouterr().err
    assert "disagrees with lakewatch's findings" in err and "column time is string" in err


def test_list_shows_a_signins_principal_mfa_and_outcome_beside_the_network_findings(
    reviewed, capsys
):
    from tests.review.conftest import PRINCIPAL, add_signin_finding

    settings, store, (worst, _) = reviewed
    signin = add_signin_finding(settings, store)
    assert main(["findings", "list", "--day", "2026-11-30"]) == 0
    lines = {line[:12]: line for line in capsys.readouterr().out.splitlines()}
    row = lines[signin[:12]]
    assert PRINCIPAL in row and "185.220.101.9" in row
    assert "sign-in: no MFA, Failure" in row
    assert "i-1" in lines[worst[:12]] and "sign-in:" not in lines[worst[:12]]
    assert "3 finding(s) on 2026-11-30" in lines.values()
    main(["findings", "list", "--day", "2026-11-30", "--json"])
    rows = {r["uid"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[signin]["view"] == "signin" and rows[signin]["principal"] == PRINCIPAL
    assert (rows[signin]["mfa"], rows[signin]["outcome"]) == ("false", "Failure")
    assert rows[worst]["principal"] == ""
