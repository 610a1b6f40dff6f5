"""orchestration.recalibrate_tasks: a run calibrates on the night before it, asset-triggered
runs (no logical date) included, with the DAG's params as options."""

from datetime import UTC, date, datetime
from types import SimpleNamespace

from lakewatch.orchestration.recalibrate_tasks import night, options


def test_the_night_is_the_day_before_the_run():
    when = datetime(2026, 11, 6, 5, tzinfo=UTC)
    assert night(when, None) == date(2026, 11, 5)
    assert night(None, SimpleNamespace(run_after=when)) == date(2026, 11, 5)  # an asset event


def test_the_params_are_the_options():
    params = {
        "target_fpr": 0.01,
        "expected_anomaly_rate": 0.002,
        "min_auc": 0.9,
        "max_shift_iqr": 2.0,
        "override": True,
        "max_normal": 500,
        "min_normal": 50,
    }
    got = options(params)
    assert (got.target_fpr, got.override, got.max_normal, got.min_normal) == (0.01, True, 500, 50)
    assert got.max_abnormal == 5_000  # not a param: the recalibration's default
