"""lakewatch_scorer_deploy and lakewatch_scorer_check on the local backend under dag.test()."""

import time
from datetime import timedelta

import pytest

from lakewatch.local.functions import LOCAL_PROCESS
from lakewatch.local.processes import ProcessRegistry
from tests.dags.helpers import DAYS, START, at, dag, extract_and_train, states

pytestmark = pytest.mark.e2e


def _ti(run, task_id):
    return next(ti for ti in run.get_task_instances() if ti.task_id == task_id)


def test_deploy_then_hourly_check(lake, clients):
    settings = lake
    assert str(extract_and_train().state) == "success"
    night = START + timedelta(days=DAYS)
    recal = dag("lakewatch_recalibrate").test(logical_date=at(night), run_conf={"min_normal": 50})
    assert str(recal.state) == "success", states(recal)

    deploy = dag("lakewatch_scorer_deploy").test(logical_date=at(night))
    assert str(deploy.state) == "success", states(deploy)
    runtime = ProcessRegistry(settings.run_dir).running(LOCAL_PROCESS)
    assert runtime is not None
    assert (
        not dag("lakewatch_scorer_deploy")
        .test(logical_date=at(night))
        .get_task_instance("deploy_scorer")
        .xcom_pull(task_ids="deploy_scorer")["changed"]
    )
    assert ProcessRegistry(settings.run_dir).running(LOCAL_PROCESS).pid == runtime.pid

    check = dag("lakewatch_scorer_check").test(logical_date=at(night), run_conf={"timeout_s": 60})
    assert str(check.state) == "success", states(check)
    canary = _ti(check, "canary").xcom_pull(task_ids="canary")
    assert canary["findings"].startswith(f"s3://{settings.results_bucket_name}/canary/findings/")
    # the canary never touched the lake
    lake_keys = [
        o["Key"]
        for o in clients("s3").list_objects_v2(Bucket=settings.lake_bucket_name).get("Contents", [])
    ]
    assert not any("canary" in k for k in lake_keys)

    # a poison message lands in the DLQ; the next check says so
    queue = clients("sqs").get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
    dlq = clients("sqs").get_queue_url(QueueName=settings.dlq_name)["QueueUrl"]
    clients("sqs").send_message(QueueUrl=queue, MessageBody="{garbage")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        attrs = clients("sqs").get_queue_attributes(
            QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        if int(attrs["ApproximateNumberOfMessages"]) == 1:
            break
        time.sleep(0.5)
    failing = dag("lakewatch_scorer_check").test(
        logical_date=at(night + timedelta(hours=1)), run_conf={"timeout_s": 60}
    )
    result = states(failing)
    assert result["queue_health"] == "failed" and result["canary"] == "success", result
