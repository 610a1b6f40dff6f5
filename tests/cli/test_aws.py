"""``lakewatch aws check``: one line per check, exit status 1 when any failed, a warning
marked as one and failing nothing (the checks themselves: tests/serving/test_aws_check.py)."""

import json
import uuid

from lakewatch.cli import main


def test_check_prints_each_verdict_and_fails_on_any(emulator_settings, capsys, monkeypatch):
    monkeypatch.setenv("LAKEWATCH_EMULATOR_PORT", str(emulator_settings.emulator_port))
    monkeypatch.setenv("LAKEWATCH_RESULTS_BUCKET", f"none-{uuid.uuid4().hex[:8]}")
    assert main(["aws", "check"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  results bucket" in out and "FAIL  SageMaker role" in out
    assert main(["aws", "check", "--json"]) == 1
    verdicts = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert verdicts["results bucket"]["ok"] is False


def test_a_warning_is_printed_as_such_and_fails_nothing(emulator_settings, capsys, monkeypatch):
    monkeypatch.setenv("LAKEWATCH_EMULATOR_PORT", str(emulator_settings.emulator_port))
    monkeypatch.setenv("LAKEWATCH_SECURITY_HUB_FINDINGS", "true")
    monkeypatch.setenv("LAKEWATCH_REGION", "ap-southeast-2")  # no Security Hub enabled there
    main(["aws", "check"])
    out = capsys.readouterr().out
    assert "WARN  Security Hub" in out and "WARNING: Security Hub is not enabled" in out
    main(["aws", "check", "--json"])
    verdicts = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert verdicts["Security Hub"]["ok"] is True and verdicts["Security Hub"]["warning"] is True
