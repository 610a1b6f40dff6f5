"""lakewatch_scorer_deploy: ship the real-time scorer for the model the endpoint serves.

Runs when ``lakewatch_train`` deploys a model (the ``lakewatch_deployed_model`` Asset) and on
demand. Builds the deployment zip from the repository (same sources, same bytes, same hash) and
keeps a copy under ``scorer/packages/``; then:

- ``aws``: creates or updates the Lambda function's code and configuration (endpoint,
  threshold parameter, results bucket, the model's pair views), publishes a version, moves the
  ``live`` alias, and creates or updates the SQS event source mapping with partial batch
  responses, waiting until it is enabled;
- ``local``: installs the same zip and (re)starts the local runtime that emulates the mapping.

Deploying the same package and configuration again changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from lakewatch.orchestration.alerts import failure_notifier
from lakewatch.orchestration.assets import DEPLOYED_MODEL

DEFAULT_ARGS = {
    "owner": "security-data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
}


@dag(
    dag_id="lakewatch_scorer_deploy",
    schedule=DEPLOYED_MODEL,
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
        from lakewatch.extract.daily import results_store
        from lakewatch.orchestration.runtime import log, task_clients, task_settings
        from lakewatch.scoring.package import build

        settings = task_settings()
        package = build()
        store = results_store(settings, task_clients(settings))
        key = f"scorer/packages/{package.sha256[:16]}.zip"
        store.put(key, package.body)
        log.info(
            "scorer package %s (%d bytes): %s",
            package.sha256[:16],
            len(package.body),
            store.uri(key),
        )
        return {"key": key, "sha256": package.sha256}

    @task(execution_timeout=timedelta(minutes=20))
    def deploy_scorer(built: dict) -> dict:
        import hashlib

        from lakewatch.extract.daily import results_store
        from lakewatch.names import lambda_function_name
        from lakewatch.orchestration.runtime import log, task_clients, task_settings
        from lakewatch.scoring.deploy import deploy_lambda, deploy_local
        from lakewatch.scoring.package import Package
        from lakewatch.scoring.setup import local_environment, scorer_config

        settings = task_settings()
        clients = task_clients(settings)
        body = results_store(settings, clients).get(built["key"])
        if hashlib.sha256(body).hexdigest() != built["sha256"]:
            raise ValueError(f"package {built['key']} does not match its recorded hash")
        package = Package(body, built["sha256"])
        config = scorer_config(settings, clients)
        if settings.backend == "local":
            queue_url = clients("sqs").get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
            result = deploy_local(
                package,
                local_environment(settings, config),
                state_dir=settings.state_dir,
                run_dir=settings.run_dir,
                queue_url=queue_url,
                account=settings.account_id,
            )
        else:
            if not settings.lambda_role_arn:
                raise ValueError(
                    "the aws backend needs LAKEWATCH_LAMBDA_ROLE_ARN (the scorer's "
                    "execution role, see include/lambda/ipcheck/iam-policy.json)"
                )
            result = deploy_lambda(
                clients("lambda"),
                function=lambda_function_name(settings.endpoint_name),
                package=package,
                config=config,
                role_arn=settings.lambda_role_arn,
                queue_arn=settings.queue_arn(),
            )
        log.info(
            "scorer %s version %s, mapping %s is %s (%s)",
            result.function,
            result.version,
            result.mapping,
            result.state,
            "changed" if result.changed else "unchanged",
        )
        return result.__dict__

    deploy_scorer(build_package())


lakewatch_scorer_deploy()
