"""lakewatch_rcf_train and lakewatch_rcf_recalibrate: the IP Insights DAGs' shape for the RCF
model: the extract's Asset feeds its training window, its deploy's Asset triggers its
recalibration and the scorer's redeploy; lakewatch_rcf_score: each closed hour, scored
across the lake's objects."""

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def _names(condition) -> set[str]:
    """The Asset names of a schedule's condition (an Asset, or an AssetAny/AssetAll)."""
    if hasattr(condition, "objects"):
        return set().union(*(_names(o) for o in condition.objects))
    return {condition.name}


def test_the_train_dag_has_ip_insights_shape_on_the_rcf_endpoint(dagbag):
    assert dagbag.import_errors == {}
    dag = dagbag.dags["lakewatch_rcf_train"]
    assert _names(dag.timetable.asset_condition) == {"lakewatch_training_pairs"}
    assert dag.get_task("choose_training").downstream_task_ids == {
        "train_local",
        "train_sagemaker",
        "wait_for_training",
        "reuse_training",
    }
    assert dag.get_task("train_sagemaker").__class__.__name__ == "SageMakerTrainingOperator"
    assert dag.get_task("register").trigger_rule == "none_failed_min_one_success"
    assert dag.get_task("finish_deploy").upstream_task_ids == {"deploy", "wait_for_endpoint"}
    assert [o.name for o in dag.get_task("smoke_check").outlets] == ["lakewatch_deployed_rcf_model"]
    for task_id in ("deploy", "wait_for_endpoint", "finish_deploy", "smoke_check"):
        assert dag.get_task(task_id).pool == "lakewatch_endpoint"


def test_the_rcf_deploy_triggers_its_recalibration_and_the_scorer(dagbag):
    recal = dagbag.dags["lakewatch_rcf_recalibrate"]
    assert _names(recal.timetable.asset_condition) == {"lakewatch_deployed_rcf_model"}
    assert [o.name for o in recal.get_task("publish").outlets] == ["lakewatch_rcf_threshold"]
    assert recal.get_task("publish").upstream_task_ids == {"choose_threshold"}
    scorer = dagbag.dags["lakewatch_scorer_deploy"]
    assert _names(scorer.timetable.asset_condition) == {
        "lakewatch_deployed_model",
        "lakewatch_deployed_rcf_model",
    }


def test_the_hourly_score_scores_the_hour_before_each_run(dagbag):
    from datetime import timedelta

    dag = dagbag.dags["lakewatch_rcf_score"]
    assert dag.timetable.__class__.__name__ == "CronTriggerTimetable"
    assert dag.timetable.expression == "20 * * * *"
    assert dag.catchup is False and dag.max_active_runs <= 2
    assert [t.task_id for t in dag.tasks] == ["score_hour"]
    task = dag.get_task("score_hour")
    assert task.retries >= 1 and task.execution_timeout <= timedelta(hours=1)
    assert dag.params["lag_minutes"] == 15 and dag.params["hour"] == ""
    assert {"lakewatch", "rcf"} <= set(dag.tags)
