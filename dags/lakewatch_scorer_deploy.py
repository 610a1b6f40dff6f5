"""lakewatch_scorer_deploy: ship the real-time scorer for the model the endpoint serves.

Runs when ``lakewatch_train`` deploys a model (the ``lakewatch_deployed_model`` Asset), when
``lakewatch_rcf_train`` deploys an RCF model (``lakewatch_deployed_rcf_model``) and on
demand. Builds the deployment zip from the repository (same sources, same bytes, same hash) and
keeps a copy under ``scorer/packages/``; then:

- ``aws``: publishes the dependency layer that ``lakewatch scorer package`` built (its
  ``layer.zip`` and ``manifest.json`` under ``LAKEWATCH_SCORER_ARTIFACTS_URI``; once per
  content), creates or updates the Lambda function's code and configuration (the layer, the
  manifest's runtime, endpoint, threshold parameter, results bucket, the model's pair views),
  publishes a version, moves the ``live`` alias, and creates or updates the SQS event source
  mapping with partial batch responses, waiting (boto3's waiters) until it is enabled;
- ``local``: installs the same zip and (re)starts the local runtime that emulates the mapping.

Deploying the same package and configuration again changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from lakewatch.orchestration import scorer_deploy_tasks as steps
from lakewatch.orchestration.alerts import failure_notifier
from lakewatch.orchestration.assets import DEPLOYED_MODEL, DEPLOYED_RCF_MODEL

DEFAULT_ARGS = {
    "owner": "security-data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
}


@dag(
    dag_id="lakewatch_scorer_deploy",
    schedule=DEPLOYED_MODEL | DEPLOYED_RCF_MODEL,  # either model's deploy
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=failure_notifier(),
    tags=["lakewatch", "scorer", "deploy"],
    doc_md=__doc__,
)
def lakewatch_scorer_deploy():
    @task
    def build_package() -> dict:
        return steps.build_package()

    @task(execution_timeout=timedelta(minutes=20))
    def deploy_scorer(built: dict) -> dict:
        return steps.deploy_scorer(built)

    deploy_scorer(build_package())


lakewatch_scorer_deploy()
