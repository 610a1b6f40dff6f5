"""The ``local`` backend: the emulator for AWS's APIs, DuckDB for Athena, lakewatch's own IP
Insights for training and serving, and a local event source mapping for Lambda."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakewatch.aws.clients import AwsClients, Boto3Clients, ClientFactory
from lakewatch.backends.clients import local_clients
from lakewatch.extract.engine import DuckAthena, LakeLocation, query_parquet
from lakewatch.lake.sink import S3Store
from lakewatch.local.bootstrap import (
    Resources,
    ensure_alerts_inbox,
    ensure_bucket,
    ensure_queue_pair,
    ensure_step_up_inbox,
)
from lakewatch.local.endpoints import LocalEndpoints
from lakewatch.local.functions import LOCAL_PROCESS, deploy_local
from lakewatch.local.processes import ProcessRegistry
from lakewatch.model.registry import ModelRecord
from lakewatch.names import serving_endpoint
from lakewatch.review.rows import day_keys
from lakewatch.scoring.process import ScorerConfig
from lakewatch.serving.deploy import DeployResult, ServingStarted
from lakewatch.serving.lambda_config import local_environment
from lakewatch.serving.lambda_deploy import ScorerDeployment
from lakewatch.serving.lambda_package import Package
from lakewatch.settings import Settings
from lakewatch.training.pipeline import TrainingJob, fetch_artifact


class LocalBackend:
    name = "local"

    def __init__(self, settings: Settings):
        self.settings = settings

    def clients(self) -> Boto3Clients:
        return local_clients(self.settings)

    def runtime_url(self) -> str | None:
        return self.settings.model_server_url

    def provision(self, clients: ClientFactory) -> Resources:
        s3 = clients("s3")
        ensure_bucket(s3, self.settings.results_bucket_name, self.settings.region)
        ensure_bucket(s3, self.settings.lake_bucket_name, self.settings.region)
        queue_url, dlq_url = ensure_queue_pair(clients("sqs"), self.settings)
        ensure_alerts_inbox(clients("sns"), clients("sqs"), self.settings)
        ensure_step_up_inbox(clients("events"), clients("sqs"), self.settings)
        return Resources(
            self.settings.lake_bucket_name, self.settings.results_bucket_name, queue_url, dlq_url
        )

    def sql_engine(self, clients: AwsClients, lake_uri: str | None = None) -> DuckAthena:
        uri = lake_uri or f"s3://{self.settings.lake_bucket_name}"
        return DuckAthena(LakeLocation.open(uri, clients, self.settings.region))

    def query_findings(self, clients: AwsClients, athena_sql: str, day: date) -> pa.Table:
        store = S3Store(clients("s3"), self.settings.results_bucket_name)
        with tempfile.TemporaryDirectory(prefix="lakewatch-findings-") as tmp:
            files = []
            for key in day_keys(store, self.settings.findings_prefix, day):
                path = Path(tmp, key)  # the key's region=/accountId=/eventDay= become columns
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(store.get(key))
                files.append(str(path))
            glue = f"{self.settings.findings_database}.{self.settings.findings_table}"
            return query_parquet(athena_sql, {glue: files})

    def training_algorithm(self, requested: str) -> str:
        if requested == "rcf":  # lakewatch's own RCF (model/rcf), SageMaker's on aws
            return "rcf"
        return "lakewatch"  # SageMaker's built-in algorithm runs only on SageMaker

    def training_job(self, clients: ClientFactory, plan_doc: dict[str, Any]) -> TrainingJob:
        return TrainingJob(action="local")

    def start_serving(self, clients: ClientFactory, record: ModelRecord) -> ServingStarted:
        # a local model server answers within seconds: the whole deploy happens here
        local = LocalEndpoints(self.settings)
        model_dir = local.install(
            record.model_id, fetch_artifact(self.settings, clients, record.artifact_uri)
        )
        done = local.deploy(self._endpoint(record.model_id), record.model_id, model_dir)
        return ServingStarted(
            endpoint=done.endpoint,
            model_id=done.model_id,
            changed=done.changed,
            previous=done.previous_model_id,
            detail=done.detail,
        )

    def serving_settled(self, clients: ClientFactory, started: ServingStarted) -> tuple[bool, str]:
        return True, f"{started.endpoint} serves {started.model_id} locally"

    def finish_serving(self, clients: ClientFactory, started: ServingStarted) -> DeployResult:
        return DeployResult(
            started.endpoint, started.model_id, started.previous, started.changed, started.detail
        )

    def serve_again(self, clients: ClientFactory, model_id: str) -> None:
        LocalEndpoints(self.settings).rollback(self._endpoint(model_id), model_id)

    def _endpoint(self, model_id: str) -> str:
        """IP Insights' endpoint, or the RCF model's for an RCF model (the model server
        serves either: ``model.artifact.algorithm_of``)."""
        s = self.settings
        return serving_endpoint(model_id, s.endpoint_name, s.rcf_endpoint_name)

    def scorer_environment(self, clients: ClientFactory, config: ScorerConfig) -> dict[str, str]:
        return local_environment(self.settings, config)

    def deploy_scorer(
        self, clients: ClientFactory, package: Package, config: ScorerConfig
    ) -> ScorerDeployment:
        queue_url = clients("sqs").get_queue_url(QueueName=self.settings.queue_name)["QueueUrl"]
        return deploy_local(
            package,
            local_environment(self.settings, config),
            state_dir=self.settings.state_dir,
            run_dir=self.settings.run_dir,
            queue_url=queue_url,
            account=self.settings.account_id,
        )

    def scorer_mapping_state(self, clients: ClientFactory) -> str:
        if ProcessRegistry(self.settings.run_dir).running(LOCAL_PROCESS):
            return "Running"
        return "the local scorer runtime is not running"
