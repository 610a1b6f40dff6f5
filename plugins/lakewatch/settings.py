"""One typed settings object for every part of lakewatch.

Values come from ``LAKEWATCH_*`` environment variables (``LAKEWATCH_BACKEND=aws``...), then from
keyword arguments (the DAG layer passes the Airflow Variable ``lakewatch`` this way).
Names left empty are derived from the region and account, the way Security Lake names things.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Backend = Literal["local", "aws"]
SourceVersion = Literal["1.0", "2.0"]

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


ALERTS_TOPIC_NAME = "lakewatch-alerts"


class Settings(BaseSettings):
    """Where lakewatch reads, writes and computes."""

    model_config = SettingsConfigDict(env_prefix="LAKEWATCH_", extra="forbid", frozen=True)

    backend: Backend = "local"
    region: str = "us-east-1"
    account_id: str = Field("123456789012", pattern=r"^\d{12}$")
    aws_conn_id: str = "aws_default"

    # local backend: the AWS emulator (moto server) and our own model server
    emulator_host: str = "127.0.0.1"
    emulator_port: int = Field(5055, ge=1, le=65535)
    endpoint_url: str | None = None
    model_server_host: str = "127.0.0.1"
    model_server_port: int = Field(8080, ge=1, le=65535)
    postgres_port: int = Field(5432 + 10000, ge=1, le=65535)  # local Airflow metadata DB
    # the local CeleryExecutor's broker (``lakewatch demo --executor celery``)
    redis_port: int = Field(6379 + 10000, ge=1, le=65535)
    state_dir: Path = Path(".lakewatch")

    # Security Lake
    lake_suffix: str = Field("lakewatchlocal", pattern=r"^[a-z0-9]{1,30}$")
    lake_bucket: str = ""
    source_version: SourceVersion = "2.0"
    queue_name: str = "lakewatch-subscriber-queue"
    dlq_name: str = "lakewatch-subscriber-dlq"
    max_receive_count: int = Field(3, ge=1, le=1000)
    visibility_timeout_s: int = Field(60, ge=0, le=43200)
    ground_truth_prefix: str = "lakewatch-ground-truth/"
    # the pair views this deployment extracts, trains on and scores (comma-separated
    # ``extract.views`` names), what the DAGs' empty ``views`` param means; "" = the network
    # views (egress_peer, ingress_peer, dns_answer). Add signin to score sign-ins too (the
    # lake must then have CloudTrail management events).
    pair_views: str = Field("", pattern=r"^[a-z_]*(,[a-z_]+)*$")

    # lakewatch's own outputs
    results_bucket: str = ""
    extracts_prefix: str = "extracts/"
    models_prefix: str = "models/"
    thresholds_prefix: str = "thresholds/"
    findings_prefix: str = "ext/lakewatch/"
    feedback_prefix: str = "feedback/"  # analysts' labels and suppressions (review/feedback.py)
    reputation_uri: str = ""  # an IP reputation list, cidr,score[,source] (file or s3://)
    athena_workgroup: str = "primary"
    # the Glue table over the findings (docs/operate.md#findings-in-athena)
    findings_database: str = Field("lakewatch", pattern=r"^[a-z0-9_]{1,255}$")
    findings_table: str = Field("lakewatch_findings", pattern=r"^[a-z0-9_]{1,255}$")
    athena_output: str = ""  # default: s3://<results bucket>/athena-results/
    sagemaker_role_arn: str = ""  # execution role for training jobs, models and endpoints
    training_instance_type: str = "ml.m5.xlarge"
    endpoint_instance_type: str = "ml.m5.large"
    threshold_parameter: str = "/lakewatch/threshold"
    findings_topic_arn: str = ""  # SNS topic for finding alerts ("" = none)
    # import each finding into Security Hub (ASFF, this account's custom integration) and
    # archive there what analysts label false positive (aws.securityhub); off by default
    security_hub_findings: bool = False
    # the EventBridge bus the scorer puts an "Unusual sign-in" event on for each anomalous
    # sign-in (the signin view's findings: a step-up signal); "" puts none. deploy/lakewatch.yaml
    # makes this bus (StepUpBusName); on ``local``, provisioning makes it with a rule that
    # delivers its events to the queue ``<bus>-inbox``
    step_up_event_bus: str = Field("lakewatch-step-up", pattern=r"^([A-Za-z0-9._-]{1,256})?$")
    # SNS topic for failed and late DAG runs ("" = lakewatch-alerts in this account and region)
    alerts_topic_arn: str = ""
    canary_prefix: str = "canary/"
    lambda_role_arn: str = ""  # the scorer Lambda's execution role (aws backend)
    # where ``lakewatch scorer package`` output (layer.zip, manifest.json) was uploaded (aws)
    scorer_artifacts_uri: str = ""
    endpoint_name: str = "lakewatch-ipinsights"
    # the Random Cut Forest endpoint the scorer also scores a VPC Flow object's whole
    # instance-hours with (scoring.rcf_scoring), against the threshold parameter
    # <threshold_parameter>-rcf; "" (the default) scores none and grants the scorer neither
    rcf_endpoint_name: str = Field("", pattern=r"^([a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})?$")

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.match(value):
            raise ValueError(f"not an AWS region name: {value!r} (e.g. us-east-1)")
        return value

    @field_validator(
        "extracts_prefix",
        "models_prefix",
        "thresholds_prefix",
        "findings_prefix",
        "feedback_prefix",
        "ground_truth_prefix",
    )
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip("/")
        return f"{value}/" if value else ""

    # derived names -------------------------------------------------------------------------

    @property
    def lake_bucket_name(self) -> str:
        """Security Lake's bucket: ``aws-security-data-lake-<region>-<suffix>``."""
        return self.lake_bucket or f"aws-security-data-lake-{self.region}-{self.lake_suffix}"

    @property
    def results_bucket_name(self) -> str:
        return self.results_bucket or f"lakewatch-results-{self.account_id}-{self.region}"

    @property
    def athena_output_location(self) -> str:
        return self.athena_output or f"s3://{self.results_bucket_name}/athena-results/"

    @property
    def resolved_endpoint_url(self) -> str | None:
        """Endpoint for S3/SQS/SSM/IAM calls: the emulator on ``local``, AWS's own on ``aws``."""
        if self.endpoint_url:
            return self.endpoint_url
        if self.backend == "local":
            return f"http://{self.emulator_host}:{self.emulator_port}"
        return None

    @property
    def alerts_topic(self) -> str:
        """Where failed and late runs are announced (on ``local``, the emulator's topic)."""
        return self.alerts_topic_arn or (
            f"arn:aws:sns:{self.region}:{self.account_id}:{ALERTS_TOPIC_NAME}"
        )

    @property
    def model_server_url(self) -> str:
        return f"http://{self.model_server_host}:{self.model_server_port}"

    @property
    def run_dir(self) -> Path:
        """Pid files of every process lakewatch starts locally."""
        return self.state_dir.resolve() / "run"

    def queue_arn(self, name: str | None = None) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account_id}:{name or self.queue_name}"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with explicit overrides (e.g. an Airflow Variable)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
