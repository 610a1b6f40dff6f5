"""The training DAG's steps, as plain functions of settings, clients and JSON-able inputs.

plan -> (SageMaker job: reuse, wait or start | local training) -> register. Every step is
idempotent: the model id derives from the window's published extracts and hyperparameters, and
every name and key derives from the model id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from lakewatch import names
from lakewatch.aws.clients import ClientFactory
from lakewatch.aws.s3 import S3Uri
from lakewatch.extract.daily import results_store
from lakewatch.extract.export import PairSet, read_parts
from lakewatch.lake.sink import S3Store
from lakewatch.model.hyperparameters import SPECS, Hyperparameters, resolve
from lakewatch.model.jobs import run_training
from lakewatch.model.registry import ModelRecord, Registry
from lakewatch.names import training_job_name
from lakewatch.review.feedback import labelled_pairs
from lakewatch.settings import Settings
from lakewatch.training.plan import TrainingPlan, plan_training
from lakewatch.training.sagemaker import artifact_uri, source_tarball, training_job_config

HP_PARAMS = (
    "epochs",
    "vector_dim",
    "learning_rate",
    "mini_batch_size",
    "num_ip_encoder_layers",
    "random_negative_sampling_rate",
    "shuffled_negative_sampling_rate",
    "weight_decay",
)


@dataclass(frozen=True)
class TrainOptions:
    """What a training run is asked to do (the DAG's params)."""

    window_days: int = 7
    min_train_rows: int = 1000
    views: tuple[str, ...] = ()
    include_ipv6: bool = False
    algorithm: str = "lakewatch"  # aws: builtin | lakewatch; local: always lakewatch
    hyperparameters: dict[str, Any] | None = None

    def pair_set(self) -> PairSet:
        return (
            PairSet(self.views, self.include_ipv6)
            if self.views
            else PairSet(include_ipv6=self.include_ipv6)
        )


SCHEDULED = ("epochs", "mini_batch_size")  # None: from the data's size (``schedule``)


def default_hyperparameters() -> dict[str, Any]:
    """The DAG's hyperparameter params: SageMaker's defaults (vector_dim: lakewatch's), but
    ``epochs`` and ``mini_batch_size`` unset so the schedule sizes them to the window."""
    return {name: None if name in SCHEDULED else SPECS[name].default for name in HP_PARAMS}


def plan(
    settings: Settings, clients: ClientFactory, window_end: date, options: TrainOptions
) -> TrainingPlan:
    """The window's extracts and the hyperparameters; raises ``NotEnoughData``."""
    algorithm = options.algorithm  # the backend's choice (``Backend.training_algorithm``)
    if algorithm == "builtin" and options.include_ipv6:
        raise ValueError(
            "SageMaker's built-in IP Insights takes IPv4 only: include_ipv6 must "
            "be false with algorithm=builtin"
        )
    hp = {k: v for k, v in (options.hyperparameters or {}).items() if v is not None}
    store = results_store(settings, clients)
    result = plan_training(
        store,
        settings.extracts_prefix,
        settings.models_prefix,
        settings.source_version,
        options.pair_set(),
        window_end,
        options.window_days,
        options.min_train_rows,
        hp,
        algorithm,
        false_positives=labelled_pairs(store, settings.feedback_prefix, through=window_end)[
            "false_positive"
        ],
    )
    resolved = resolve(
        {
            **hp,
            "num_entity_vectors": hp.get("num_entity_vectors")
            or max(2, 2 * result.entities_upper_bound),
        },
        distinct_entities=result.entities_upper_bound,
        distinct_addresses=result.train_rows,
        pairs=result.train_rows,
    )
    result.hyperparameters = resolved.to_dict()
    return result


def artifact_key(settings: Settings, model_id: str) -> str:
    return names.artifact_key(settings.models_prefix, model_id)


def train_local(
    settings: Settings, clients: ClientFactory, plan_doc: dict[str, Any], log=print
) -> dict[str, Any]:
    """Train lakewatch's IP Insights in this worker; reuse the artifact if a try made it."""
    store = results_store(settings, clients)
    key = artifact_key(settings, plan_doc["model_id"])
    if exists(store, key):
        log(f"model {plan_doc['model_id']} already trained: reusing {store.uri(key)}")
        return {"artifact": store.uri(key), "reused": True, "stats": {}}
    hp_items = [f"{k}={v}" for k, v in plan_doc["hyperparameters"].items()]
    stats = run_training(
        plan_doc["train_manifest"],
        store.uri(key.rsplit("/", 1)[0]),
        plan_doc["validation_manifest"],
        hp_items,
        clients=clients,
        log=log,
    )
    return {
        "artifact": stats["artifact"],
        "reused": False,
        "stats": {k: v for k, v in stats.items() if k != "artifact"},
    }


def sagemaker_job(
    settings: Settings, clients: ClientFactory, plan_doc: dict[str, Any], algorithm: str
) -> dict[str, Any]:
    """The job for this plan and what to do about it: reuse, wait, or start.

    The name derives from the model id; a failed or stopped try gets the next ``-rN`` name.
    """
    sm = clients("sagemaker")
    attempt, state = 1, None
    while True:
        name = training_job_name(plan_doc["model_id"], attempt)
        try:
            state = sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ValidationException":
                raise
            state = None
        if state in ("Failed", "Stopped"):
            attempt += 1
            continue
        break
    source_uri = ""
    if algorithm == "lakewatch":
        body, digest = source_tarball()
        store = results_store(settings, clients)
        key = names.source_tarball_key(settings.models_prefix, digest)
        if not exists(store, key):
            store.put(key, body)
        source_uri = store.uri(key)
    hp = Hyperparameters(**plan_doc["hyperparameters"])
    config = training_job_config(
        name=name,
        algorithm=algorithm,
        hp=hp,
        region=settings.region,
        role_arn=settings.sagemaker_role_arn,
        train_manifest=plan_doc["train_manifest"],
        validation_manifest=plan_doc["validation_manifest"],
        output_path=(
            f"s3://{settings.results_bucket_name}/"
            f"{names.sagemaker_output_prefix(settings.models_prefix)}"
        ),
        instance_type=settings.training_instance_type,
        source_uri=source_uri,
        tags={"lakewatch:model-id": plan_doc["model_id"]},
    )
    action = {"Completed": "reuse", "InProgress": "wait", "Stopping": "wait"}.get(
        state or "", "start"
    )
    return {
        "name": name,
        "state": state,
        "action": action,
        "config": config,
        "artifact": artifact_uri(config),
        "source_uri": source_uri,
    }


def sagemaker_metrics(clients: ClientFactory, job_name: str) -> dict[str, Any]:
    desc = clients("sagemaker").describe_training_job(TrainingJobName=job_name)
    return {m["MetricName"]: m["Value"] for m in desc.get("FinalMetricDataList", [])}


def register(
    settings: Settings,
    clients: ClientFactory,
    plan_doc: dict[str, Any],
    algorithm: str,
    artifact: str,
    metrics: dict[str, Any],
    training_job: str = "",
    source_uri: str = "",
) -> ModelRecord:
    record = ModelRecord(
        model_id=plan_doc["model_id"],
        artifact_uri=artifact,
        algorithm=algorithm,
        hyperparameters=plan_doc["hyperparameters"],
        data_interval={"start": plan_doc["window_start"], "end": plan_doc["window_end"]},
        days=plan_doc["days"],
        metrics=metrics,
        training_job=training_job,
        extra={
            "pairs": plan_doc.get("pairs", ""),
            "train_parts": plan_doc["train_parts"],
            "train_rows": plan_doc["train_rows"],
            "validation_rows": plan_doc["validation_rows"],
            "validation_parts": plan_doc["validation_parts"],
            "missing_days": plan_doc["missing_days"],
            **({"source_uri": source_uri} if source_uri else {}),
        },
    )
    Registry(results_store(settings, clients), settings.models_prefix).register(record)
    return record


def validation_sample(
    settings: Settings, clients: ClientFactory, plan_doc: dict[str, Any], limit: int = 2000
) -> tuple[list[str], list[str]]:
    """Known-normal pairs for the smoke check: the first rows of the validation parts."""
    keys = plan_doc["validation_parts"] or plan_doc["train_parts"]
    pairs = read_parts(results_store(settings, clients), keys, limit)
    return [e for e, _ in pairs], [ip for _, ip in pairs]


def exists(store: S3Store, key: str) -> bool:
    try:
        store.s3.head_object(Bucket=store.bucket, Key=store.prefix + key)
        return True
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def fetch_artifact(settings: Settings, clients: ClientFactory, uri: str) -> bytes:
    loc = S3Uri.parse(uri)
    return clients("s3").get_object(Bucket=loc.bucket, Key=loc.key)["Body"].read()
