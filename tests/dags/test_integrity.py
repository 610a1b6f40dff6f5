"""Every DAG loads, and follows the project's conventions."""

import pytest

from tests.conftest import REPO

DAG_FILES = sorted(p.name for p in (REPO / "dags").glob("*.py"))


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) >= len(DAG_FILES)


def test_conventions(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag_id.startswith("lakewatch_"), dag_id
        assert "lakewatch" in dag.tags, dag_id
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert dag.catchup is False, dag_id
        for t in dag.tasks:
            assert t.owner and t.owner != "airflow", (dag_id, t.task_id)
            assert t.retries is not None, (dag_id, t.task_id)


def test_dag_files_only_wire(dagbag):
    """Business logic lives in plugins/lakewatch: DAG files import no boto3/duckdb/torch."""
    for name in DAG_FILES:
        text = (REPO / "dags" / name).read_text()
        for forbidden in ("import boto3", "import duckdb", "import torch", "import pyarrow"):
            assert forbidden not in text, (name, forbidden)


def test_extract_is_a_daily_partition(dagbag):
    dag = dagbag.dags["lakewatch_extract"]
    assert dag.timetable.__class__.__name__ == "CronDataIntervalTimetable"
    assert {t.task_id for t in dag.tasks} == {"extract_pairs"}
    assert [o.name for o in dag.get_task("extract_pairs").outlets] == ["lakewatch_training_pairs"]
    # one task on both backends, its Athena SQL a rendered template field the UI shows
    task = dag.get_task("extract_pairs")
    assert task.__class__.__name__ == "ExtractDayOperator"
    assert {"counts_sql", "unload_sql", "splits_sql"} <= set(task.template_fields)


def test_train_graph(dagbag):
    dag = dagbag.dags["lakewatch_train"]
    assert dag.max_active_runs == 1
    ids = {t.task_id for t in dag.tasks}
    assert ids == {
        "plan",
        "training_job",
        "choose_training",
        "train_local",
        "train_sagemaker",
        "wait_for_training",
        "reuse_training",
        "register",
        "deploy",
        "wait_for_endpoint",
        "finish_deploy",
        "publish_detector",
        "smoke_check",
    }
    endpoint_tasks = ("deploy", "wait_for_endpoint", "finish_deploy", "publish_detector")
    assert {dag.get_task(t).pool for t in (*endpoint_tasks, "smoke_check")} == {
        "lakewatch_endpoint"
    }
    # the endpoint's minutes in Creating/Updating hold no worker slot
    assert dag.get_task("wait_for_endpoint").mode == "reschedule"
    assert dag.get_task("finish_deploy").upstream_task_ids == {"deploy", "wait_for_endpoint"}
    assert dag.get_task("publish_detector").upstream_task_ids == {"register", "finish_deploy"}
    assert "publish_detector" in dag.get_task("smoke_check").upstream_task_ids
    assert dag.params["epochs"] is None and dag.params["mini_batch_size"] is None  # schedule
    assert dag.get_task("register").trigger_rule == "none_failed_min_one_success"
    assert dag.get_task("train_sagemaker").__class__.__name__ == "SageMakerTrainingOperator"
    assert dag.get_task("train_sagemaker").deferrable  # hours of waiting in the triggerer
    assert dag.get_task("wait_for_training").mode == "reschedule"
    # smoke_check retries throttling; its refusal is an AirflowFailException, never retried
    assert dag.get_task("smoke_check").retries >= 1
    assert [o.name for o in dag.get_task("smoke_check").outlets] == ["lakewatch_deployed_model"]


def test_every_dag_alerts_on_failure_and_nightly_ones_when_late(dagbag):
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

    from lakewatch.settings import Settings

    for dag_id, dag in dagbag.dags.items():
        [notifier] = (
            dag.on_failure_callback
            if isinstance(dag.on_failure_callback, list)
            else [dag.on_failure_callback]
        )
        assert isinstance(notifier, SnsNotifier), dag_id
        assert notifier.target_arn == Settings().alerts_topic, dag_id
    for dag_id in ("lakewatch_extract", "lakewatch_train", "lakewatch_recalibrate"):
        deadline = dagbag.dags[dag_id].deadline
        [alert] = deadline if isinstance(deadline, list) else [deadline]
        assert alert.callback.kwargs["dag_id"] == dag_id
