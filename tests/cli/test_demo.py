"""``lakewatch demo``: its options and defaults (the README's), and bad values refused before
anything starts."""

import pytest

from lakewatch.cli import build_parser, main


def test_defaults_are_the_readmes():
    args = build_parser().parse_args(["demo"])
    assert (args.days, args.rows_per_day, args.seed, args.airflow_port) == (6, 40_000, 7, 8280)
    assert args.churn == 0.0  # no churn unless asked: the demo's figures as they were
    assert build_parser().parse_args(["demo", "--churn", "0.2"]).churn == 0.2


@pytest.mark.parametrize(
    "argv",
    [["--days", "0"], ["--rows-per-day", "-5"], ["--seed", "x"], ["--churn", "1.5"]],
)
def test_bad_values_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["demo", *argv])
    assert exit_.value.code == 2 and "lakewatch demo: error:" in capsys.readouterr().err
