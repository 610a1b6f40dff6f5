"""The ``aws`` backend: Athena, SageMaker (training jobs and endpoints) and Lambda."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa

from lakewatch.aws import wrangler
from lakewatch.aws.clients import AwsClients, Boto3Clients, ClientFactory
from lakewatch.backends.clients import aws_clients
from lakewatch.extract.athena import AthenaRunner
from lakewatch.local.bootstrap import Resources, ensure_bucket
from lakewatch.model.registry import ModelRecord
from lakewatch.names import (
    endpoint_config_name,
    is_rcf_model,
    lambda_function_name,
    lambda_layer_name,
    serving_endpoint,
)
from lakewatch.scoring.process import ScorerConfig
from lakewatch.serving.deploy import DeployResult, ServingStarted
from lakewatch.serving.lambda_deploy import ScorerDeployment, deploy_lambda, publish_layer
from lakewatch.serving.lambda_package import Package
from lakewatch.serving.sagemaker import SageMakerEndpoints
from lakewatch.settings import Settings
from lakewatch.training.pipeline import TrainingJob, sagemaker_job
from lakewatch.training.sagemaker import model_config, rcf_model_config


class AwsBackend:
    name = "aws"

    def __init__(self, settings: Settings):
        self.settings = settings

    def clients(self) -> Boto3Clients:
        return aws_clients(self.settings)

    def runtime_url(self) -> str | None:
        return None

    def provision(self, clients: ClientFactory) -> Resources:
        # Security Lake owns the lake bucket and the subscriber queue; lakewatch its results
        ensure_bucket(clients("s3"), self.settings.results_bucket_name, self.settings.region)
        sqs = clients("sqs")
        return Resources(
            self.settings.lake_bucket_name,
            self.settings.results_bucket_name,
            sqs.get_queue_url(QueueName=self.settings.queue_name)["QueueUrl"],
            sqs.get_queue_url(QueueName=self.settings.dlq_name)["QueueUrl"],
        )

    def sql_engine(self, clients: AwsClients, lake_uri: str | None = None) -> AthenaRunner:
        return AthenaRunner(
            clients("athena"),
            self.settings.athena_output_location,
            self.settings.athena_workgroup,
        )

    def query_findings(self, clients: AwsClients, athena_sql: str, day: date) -> pa.Table:
        """The day through the findings table, read with ``awswrangler.athena`` into Arrow."""
        s = self.settings
        return wrangler.athena_table(
            clients,
            s.region,
            athena_sql,
            database=s.findings_database,
            workgroup=s.athena_workgroup,
            s3_output=s.athena_output_location,
        )

    def training_algorithm(self, requested: str) -> str:
        return requested

    def training_job(self, clients: ClientFactory, plan_doc: dict[str, Any]) -> TrainingJob:
        return sagemaker_job(self.settings, clients, plan_doc, plan_doc["algorithm"])

    def _endpoints(self, clients: ClientFactory) -> SageMakerEndpoints:
        return SageMakerEndpoints(
            clients("sagemaker"), instance_type=self.settings.endpoint_instance_type
        )

    def start_serving(self, clients: ClientFactory, record: ModelRecord) -> ServingStarted:
        s = self.settings
        if is_rcf_model(record.model_id):  # SageMaker's built-in RCF, on the RCF endpoint
            config = rcf_model_config(
                name=record.model_id,
                artifact=record.artifact_uri,
                region=s.region,
                role_arn=s.sagemaker_role_arn,
            )
        else:
            config = model_config(
                name=record.model_id,
                algorithm=record.algorithm,
                artifact=record.artifact_uri,
                region=s.region,
                role_arn=s.sagemaker_role_arn,
                instance_type=s.endpoint_instance_type,
                source_uri=record.extra.get("source_uri", ""),
            )
        endpoint = self._endpoint(record.model_id)
        started = self._endpoints(clients).start(endpoint, record.model_id, config)
        return ServingStarted.model_validate(started)

    def _endpoint(self, model_id: str) -> str:
        s = self.settings
        return serving_endpoint(model_id, s.endpoint_name, s.rcf_endpoint_name)

    def serving_settled(self, clients: ClientFactory, started: ServingStarted) -> tuple[bool, str]:
        return self._endpoints(clients).settled(started.endpoint)

    def finish_serving(self, clients: ClientFactory, started: ServingStarted) -> DeployResult:
        return self._endpoints(clients).finish(started.to_json())

    def serve_again(self, clients: ClientFactory, model_id: str) -> None:
        endpoint = self._endpoint(model_id)
        SageMakerEndpoints(clients("sagemaker")).rollback(
            endpoint, endpoint_config_name(endpoint, model_id)
        )

    def scorer_environment(self, clients: ClientFactory, config: ScorerConfig) -> dict[str, str]:
        return config.to_env()

    def deploy_scorer(
        self, clients: ClientFactory, package: Package, config: ScorerConfig
    ) -> ScorerDeployment:
        if not self.settings.lambda_role_arn:
            raise ValueError(
                "the aws backend needs LAKEWATCH_LAMBDA_ROLE_ARN (the scorer's "
                "execution role, see include/lambda/ipcheck/iam-policy.json)"
            )
        if not self.settings.scorer_artifacts_uri:
            raise ValueError(
                "the aws backend needs LAKEWATCH_SCORER_ARTIFACTS_URI: the s3:// folder where "
                "`lakewatch scorer package --out DIR` output (layer.zip, manifest.json) was "
                "uploaded; the scorer's dependencies are that layer"
            )
        lam = clients("lambda")
        layer = publish_layer(
            lam,
            clients("s3"),
            self.settings.scorer_artifacts_uri,
            lambda_layer_name(self.settings.endpoint_name),
        )
        return deploy_lambda(
            lam,
            function=lambda_function_name(self.settings.endpoint_name),
            package=package,
            config=config,
            role_arn=self.settings.lambda_role_arn,
            queue_arn=self.settings.queue_arn(),
            layers=[layer.arn],
            runtime=layer.runtime,
            architecture=layer.architecture,
        )

    def scorer_mapping_state(self, clients: ClientFactory) -> str:
        function = lambda_function_name(self.settings.endpoint_name)
        mappings = [
            m
            for m in clients("lambda")
            .list_event_source_mappings(EventSourceArn=self.settings.queue_arn())
            .get("EventSourceMappings", [])
            if function in m.get("FunctionArn", "")
        ]
        return mappings[0]["State"] if mappings else "no event source mapping"
