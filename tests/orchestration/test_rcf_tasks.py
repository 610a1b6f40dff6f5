"""orchestration.rcf_tasks: the hourly step's hour (the closed one before the run, or the
one asked for) and its skip while no RCF model serves."""

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
