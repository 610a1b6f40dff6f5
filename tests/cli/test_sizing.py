"""``lakewatch sizing``: prints the model's answer for the lake it is given, offline."""

from __future__ import annotations

import re

import pytest

from lakewatch.cli import build_parser, main
from lakewatch.cli.sizing import lake_of
from lakewatch.serving import sizing
from lakewatch.serving.sizing import Lake, render, size


def test_prints_the_models_answer(capsys):
    assert main(["sizing", "--accounts", "500", "--regions", "4", "--flow-tb-per-day", "20"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == render(size(Lake(500, 4, 20)))
    assert "where it breaks" in out and re.search(r"^first: ", out, re.M)


def test_options_reach_the_model():
    args = build_parser().parse_args(
        [
            *("sizing", "--accounts", "20", "--regions", "2", "--flow-tb-per-day", "1.5"),
            *("--route53-tb-per-day", "0.2", "--cloudtrail-tb-per-day", "3"),
            *("--instances", "80", "--objects-per-day", "96", "--skew", "4"),
            *("--window-days", "14"),
        ]
    )
    assert lake_of(args) == Lake(20, 2, 1.5, 0.2, 3.0, 80, 96, 4.0, 14)


def test_options_left_out_keep_the_models_defaults_as_the_help_says():
    args = build_parser().parse_args(
        ["sizing", "--accounts", "1", "--regions", "1", "--flow-tb-per-day", "1"]
    )
    lake = lake_of(args)
    assert lake == Lake(1, 1, 1.0)
    help_text = build_parser()._subparsers._group_actions[0].choices["sizing"].format_help()
    help_text = " ".join(help_text.split())
    assert f"default {lake.instances_per_account_region}" in help_text
    assert f"default {lake.objects_per_day}" in help_text
    assert f"default {lake.busiest_skew:g}" in help_text
    assert f"default {lake.window_days}" in help_text
    assert lake.objects_per_day == sizing.OBJECTS_PER_DAY.value


@pytest.mark.parametrize(
    "bad",
    [
        "--accounts 0 --regions 1 --flow-tb-per-day 1",
        "--accounts 1 --regions 1 --flow-tb-per-day -1",
        "--accounts 1 --regions 1 --flow-tb-per-day nan",
        "--accounts 1 --regions 1 --flow-tb-per-day 1 --skew 0.5",
        "--accounts 1 --regions 1",
    ],
)
def test_refuses_impossible_lakes(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sizing", *bad.split()])
    assert exc.value.code == 2


def test_a_lake_of_no_flow_is_an_error_not_a_crash(capsys):
    assert main(["sizing", "--accounts", "1", "--regions", "1", "--flow-tb-per-day", "0"]) == 2
    assert "flow-tb-per-day" in capsys.readouterr().err
