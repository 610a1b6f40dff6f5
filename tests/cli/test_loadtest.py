"""``lakewatch loadtest``: its arguments, and its refusal of a non-loopback emulator (the run
itself: tests/loadtest/test_run_e2e.py)."""

import pytest

from lakewatch.cli import build_parser, main


def test_defaults_and_bounds():
    args = build_parser().parse_args(
        ["loadtest", "--rate", "5", "--count", "200", "--max-seconds", "120", "--out", "d"]
    )
    assert (args.rate, args.count, args.max_seconds, args.bad) == (5.0, 200, 120.0, 4)
    assert (args.drain_seconds, args.sample_interval, args.max_receives) == (120.0, 0.25, 2)
    for flag in ("--rate", "--max-seconds"):
        argv = ["loadtest", "--rate", "5", "--count", "9", "--max-seconds", "9", "--out", "d"]
        argv[argv.index(flag) + 1] = "0"
        with pytest.raises(SystemExit):
            build_parser().parse_args(argv)


def test_a_non_loopback_emulator_is_refused(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LAKEWATCH_ENDPOINT_URL", "http://192.0.2.10:5055")
    argv = ["loadtest", "--rate", "5", "--count", "10", "--max-seconds", "5"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert "not a loopback address" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "extra",
    [["--bad", "11"], ["--bad", "-1"], ["--visibility-timeout", "0"], ["--max-receives", "0"]],
)
def test_impossible_plans_are_refused_before_anything_starts(extra, tmp_path, capsys):
    argv = ["loadtest", "--rate", "5", "--count", "10", "--max-seconds", "5"]
    assert main([*argv, "--out", str(tmp_path / "out"), *extra]) == 2
    assert "must be" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
