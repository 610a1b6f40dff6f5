"""What differs between the ``local`` and ``aws`` backends, as one interface.

Everything else (S3, SQS, SSM and SNS calls, the SQL text, the registry, thresholds, findings)
is shared code that takes a client factory: the emulator serves the same APIs on ``local``.
Only the compute below has two implementations, both in this package.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

import pyarrow as pa

from lakewatch.aws.clients import AwsClients, Boto3Clients, ClientFactory
from lakewatch.extract.daily import SqlEngine
from lakewatch.local.bootstrap import Resources
from lakewatch.model.registry import ModelRecord
from lakewatch.scoring.process import ScorerConfig
from lakewatch.serving.deploy import DeployResult, ServingStarted
from lakewatch.serving.lambda_deploy import ScorerDeployment
from lakewatch.serving.lambda_package import Package
from lakewatch.settings import Settings
from lakewatch.training.pipeline import TrainingJob


class Backend(Protocol):
    """The compute seam: SQL engine, training, model endpoint, function runtime."""

    name: str
    settings: Settings

    def clients(self) -> Boto3Clients:
        """boto3 clients outside Airflow (inside, the provider's hooks build them)."""
        ...

    def runtime_url(self) -> str | None:
        """Where ``sagemaker-runtime`` calls go; None: the AWS connection's own endpoint."""
        ...

    def provision(self, clients: ClientFactory) -> Resources:
        """The buckets and queues lakewatch needs: created where lakewatch owns them."""
        ...

    def sql_engine(self, clients: AwsClients, lake_uri: str | None = None) -> SqlEngine:
        """What runs the extract's SQL over the lake."""
        ...

    def query_findings(self, clients: AwsClients, athena_sql: str, day: date) -> pa.Table:
        """Athena SQL over the findings table (``findings_database.findings_table``) for one
        day: Athena on ``aws``, DuckDB over the day's findings files on ``local``."""
        ...

    def training_algorithm(self, requested: str) -> str:
        """The IP Insights implementation that trains (``lakewatch`` or ``builtin``)."""
        ...

    def training_job(self, clients: ClientFactory, plan_doc: dict[str, Any]) -> TrainingJob:
        """How the plan is trained: action ``local`` (in the worker), or a SageMaker job to
        start, wait for or reuse (``training.pipeline.sagemaker_job``)."""
        ...

    def start_serving(self, clients: ClientFactory, record: ModelRecord) -> ServingStarted:
        """Begin serving ``record`` on the endpoint (nothing to do when it already does);
        returns what ``serving_settled`` and ``finish_serving`` need (an XCom between them)."""
        ...

    def serving_settled(self, clients: ClientFactory, started: ServingStarted) -> tuple[bool, str]:
        """Is the endpoint done changing? (done, its state): a sensor's poke."""
        ...

    def finish_serving(self, clients: ClientFactory, started: ServingStarted) -> DeployResult:
        """The deploy's outcome; a failed one is rolled back and raises ``DeployError``."""
        ...

    def serve_again(self, clients: ClientFactory, model_id: str) -> None:
        """Put an earlier model back on the endpoint (rollback)."""
        ...

    def scorer_environment(self, clients: ClientFactory, config: ScorerConfig) -> dict[str, str]:
        """The scorer function's environment."""
        ...

    def deploy_scorer(
        self, clients: ClientFactory, package: Package, config: ScorerConfig
    ) -> ScorerDeployment:
        """Run ``package`` on the subscriber queue (Lambda, or the local event source mapping)."""
        ...

    def scorer_mapping_state(self, clients: ClientFactory) -> str:
        """The state of what feeds the queue to the scorer (``Enabled``, ``Running`` or why not)."""
        ...
