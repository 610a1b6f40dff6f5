"""orchestration.rcf_tasks: the hourly step's hour (the closed one before the run, or the
one asked for) and its skip while no RCF model serves; on aws, no training without a named
RCF endpoint (the only one the stack grants)."""

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from lakewatch.orchestration import rcf_tasks


def test_an_hour_with_no_rcf_model_served_is_skipped(airflow_env):
    run = SimpleNamespace(run_after=datetime(2026, 11, 5, 14, 20, tzinfo=UTC))
    with pytest.raises(AirflowSkipException, match="2026-11-05T13h: no RCF model serves"):
        rcf_tasks.score_hour({"lag_minutes": 15, "hour": ""}, None, run)
    with pytest.raises(AirflowSkipException, match="2026-11-05T03h: no RCF model serves"):
        rcf_tasks.score_hour({"lag_minutes": 15, "hour": "2026-11-05T03"}, None, run)


def test_on_aws_without_an_rcf_endpoint_training_is_skipped_saying_what_to_set(
    airflow_env, monkeypatch
):
    settings, _ = airflow_env
    overrides = {k: str(v) for k, v in settings.model_dump(exclude_defaults=True).items()}
    monkeypatch.setenv("AIRFLOW_VAR_LAKEWATCH", json.dumps({**overrides, "backend": "aws"}))
    run = SimpleNamespace(run_after=datetime(2026, 11, 5, 3, 30, tzinfo=UTC))
    params = {
        "window_days": 7,
        "min_train_hours": 500,
        "num_trees": 100,
        "num_samples_per_tree": 256,
    }
    with pytest.raises(AirflowSkipException, match="set LAKEWATCH_RCF_ENDPOINT_NAME"):
        rcf_tasks.plan(params, None, run)
