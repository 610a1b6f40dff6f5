"""The DAGs' clock schedules: each DAG runs on the module's expression, and a trainer
unpaused for the first time waits for its next time instead of running the latest missed one
(whose window, from midnight to 03:30 UTC, ends a day short of the extracts there are)."""

from datetime import UTC, datetime

import pytest

from lakewatch.orchestration import schedules
from tests.conftest import REPO

SCHEDULED = {
    "lakewatch_extract": schedules.EXTRACT,
    "lakewatch_train": schedules.TRAIN,
    "lakewatch_rcf_train": schedules.RCF_TRAIN,
    "lakewatch_recalibrate": schedules.RECALIBRATE,
    "lakewatch_rcf_recalibrate": schedules.RCF_RECALIBRATE,
    "lakewatch_scorer_check": schedules.SCORER_CHECK,
    "lakewatch_rcf_score": schedules.RCF_SCORE,
}


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def _clock(dag):
    """The DAG's clock timetable as the scheduler has it (encoded and decoded as it is
    serialized), the time half of an asset-or-time schedule."""
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    timetable = decode_timetable(encode_timetable(dag.timetable))
    return getattr(timetable, "timetable", timetable)


def test_every_dag_runs_on_the_modules_schedule(dagbag):
    assert dagbag.import_errors == {}
    for dag_id, cron in SCHEDULED.items():
        assert _clock(dagbag.dags[dag_id]).summary == cron, dag_id


def _first_run(dag, now: datetime, monkeypatch):
    """The run the scheduler would create on unpausing ``dag`` at ``now`` with no runs yet."""
    import airflow.timetables.trigger as trigger
    from airflow.timetables.base import TimeRestriction
    from pendulum import instance

    monkeypatch.setattr(trigger, "utcnow", lambda: instance(now))
    return _clock(dag).next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(dag.start_date, None, catchup=False),
    )


@pytest.mark.parametrize("hour", [0, 1, 3, 4, 12, 23])
@pytest.mark.parametrize("dag_id", ["lakewatch_train", "lakewatch_rcf_train"])
def test_a_trainer_unpaused_the_first_time_waits_for_its_next_time(
    dagbag, dag_id, hour, monkeypatch
):
    """With a start_date, unpausing at 00:14 ran yesterday's 03:00: a window through the day
    before yesterday, so the demo trained on five of its six quiet days (its figures and its
    end-to-end test changed with the hour it ran)."""
    dag = dagbag.dags[dag_id]
    assert dag.start_date is None
    now = datetime(2026, 12, 8, hour, 14, tzinfo=UTC)
    first = _first_run(dag, now, monkeypatch)
    assert first is not None and first.run_after > now  # nothing runs until then
    # the same schedule with a start date runs a time already past, at once
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.trigger import CronTriggerTimetable

    dated = CronTriggerTimetable(SCHEDULED[dag_id], timezone="UTC").next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(datetime(2024, 1, 1, tzinfo=UTC), None, catchup=False),
    )
    assert dated is not None and dated.run_after <= now
