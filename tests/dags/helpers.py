"""Running the project's DAGs under dag.test() on the local backend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tests.conftest import REPO

START = date(2026, 11, 1)
DAYS = 5
TRAIN_CONF = {
    "epochs": 8,
    "vector_dim": 16,
    "mini_batch_size": 1000,
    "min_train_rows": 100,
    "window_days": 7,
}


def dag(dag_id):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    loaded = bag.get_dag(dag_id)
    # dag.test() in Airflow 3.3 looks deadline alerts up by id without syncing them to the
    # database first (it fails on the serialized dict); the scheduler does sync them. The
    # alerts themselves are checked in test_integrity and tests/orchestration/test_alerts.py.
    loaded.deadline = None
    return loaded


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


def extract(day: date, conf=None):
    """The extract run for ``day``: a manual run of a data-interval timetable covers the
    interval that ends at its logical date, so it is the run at day + 1."""
    return dag("lakewatch_extract").test(
        logical_date=at(day + timedelta(days=1)), run_conf=conf or {}
    )


def extract_and_train(conf=None):
    for d in range(DAYS):
        run = extract(START + timedelta(days=d))
        assert str(run.state) == "success", states(run)
    return dag("lakewatch_train").test(
        logical_date=at(START + timedelta(days=DAYS)), run_conf={**TRAIN_CONF, **(conf or {})}
    )
