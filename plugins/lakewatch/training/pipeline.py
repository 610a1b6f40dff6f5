"""The training DAG's steps, as plain functions of settings, clients and JSON-able inputs.

plan -> (SageMaker job: reuse, wait or start | local training) -> register. Every step is
idempotent: the model id derives from the window's published extracts and hyperparameters, and
every name and key derives from the model id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from lakewatch import names
from lakewatch.aws.clients import ClientFactory
from lakewatch.aws.s3 import S3Uri
from lakewatch.extract.daily import results_store
from lakewatch.extract.export import PairSet, read_parts
from lakewatch.extract.views import configured_views
from lakewatch.lake.sink import S3Store
from lakewatch.model.hyperparameters import SPECS, Hyperparameters, resolve
from lakewatch.model.registry import ModelRecord, Registry
from lakewatch.names import training_job_name
from lakewatch.review.feedback import labelled_pairs
from lakewatch.settings import Settings
from lakewatch.training.jobs import run_training
from lakewatch.training.plan import TrainingPlan, plan_training
from lakewatch.training.rcf_plan import RcfPlan, rcf_job_config
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

    @classmethod
    def from_params(cls, params: Mapping[str, Any], algorithm: str) -> TrainOptions:
        """The DAG's params as options; ``algorithm`` is the backend's choice."""
        return cls(
            window_days=params["window_days"],
            min_train_rows=params["min_train_rows"],
            views=tuple(params["views"]),
            include_ipv6=params["include_ipv6"],
            algorithm=algorithm,
            hyperparameters={name: params[name] for name in HP_PARAMS},
        )

    def pair_set(self, configured: str = "") -> PairSet:
        """The params' views, else the deployment's (``Settings.pair_views``)."""
        return PairSet(self.views or configured_views(configured), self.include_ipv6)


class TrainingJob(BaseModel):
    """How a plan is trained (``Backend.training_job``): ``local`` in the worker, else the
    SageMaker job ``name`` to ``start``, ``wait`` for or ``reuse``. It is an XCom that the
    branch, the SageMaker operator and sensor, and ``register`` read, so it is validated
    there (``from_json``) rather than trusted as a dict."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Literal["local", "start", "wait", "reuse"]
    name: str = ""  # the SageMaker training job
    state: str | None = None  # its status when looked up; None: no such job yet
    config: dict[str, Any] = Field(default_factory=dict)  # CreateTrainingJob's request
    artifact: str = ""  # where the job writes model.tar.gz
    source_uri: str = ""  # script mode: lakewatch's source tarball

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> TrainingJob:
        return cls.model_validate(doc)


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
        options.pair_set(settings.pair_views),
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
) -> TrainingJob:
    """The job for this plan and what to do about it: reuse, wait, or start.

    The name derives from the model id; a failed or stopped try gets the next ``-rN`` name.
    """
    if plan_doc.get("algorithm") == ALGORITHM_RCF:
        return rcf_sagemaker_job(settings, clients, plan_doc)
    name, state = job_attempt(clients("sagemaker"), plan_doc["model_id"])
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
    return TrainingJob(
        name=name,
        state=state,
        action=_action(state),
        config=config,
        artifact=artifact_uri(config),
        source_uri=source_uri,
    )


def job_attempt(sm: Any, model_id: str) -> tuple[str, str | None]:
    """The model's training job name to use and its status (None: no such job yet): a
    failed or stopped try gets the next ``-rN`` name."""
    attempt = 1
    while True:
        name = training_job_name(model_id, attempt)
        try:
            state = sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ValidationException":
                raise
            state = None
        if state in ("Failed", "Stopped"):
            attempt += 1
            continue
        return name, state


def _action(state: str | None) -> Literal["start", "wait", "reuse"]:
    if state == "Completed":
        return "reuse"
    if state in ("InProgress", "Stopping"):
        return "wait"
    return "start"


ALGORITHM_RCF = "rcf"


def rcf_sagemaker_job(
    settings: Settings, clients: ClientFactory, plan_doc: dict[str, Any]
) -> TrainingJob:
    """An RCF plan's (``training.rcf_plan.RcfPlan``) SageMaker job: SageMaker's built-in
    Random Cut Forest over the plan's training folder; reuse, wait or start, as for IP
    Insights."""
    plan = RcfPlan.from_json(plan_doc)
    name, state = job_attempt(clients("sagemaker"), plan.model_id)
    config = rcf_job_config(
        plan,
        results_store(settings, clients),
        models_prefix=settings.models_prefix,
        region=settings.region,
        role_arn=settings.sagemaker_role_arn,
        instance_type=settings.training_instance_type,
    )
    config["TrainingJobName"] = name
    return TrainingJob(
        name=name,
        state=state,
        action=_action(state),
        config=config,
        artifact=artifact_uri(config),
    )


def sagemaker_metrics(clients: ClientFactory, job_name: str) -> dict[str, Any]:
    desc = clients("sagemaker").describe_training_job(TrainingJobName=job_name)
    return {m["MetricName"]: m["Value"] for m in desc.get("FinalMetricDataList", [])}


def local_metrics(stats: dict[str, Any]) -> dict[str, Any]:
    """The registry's metrics of a worker-trained model: its validation figures and size, as
    SageMaker reports them for a job (the rest of the trainer's stats stay in its log)."""
    return {
        k: v
        for k, v in stats.items()
        if k.startswith("validation") or k in ("train_pairs", "train_entities")
    }


def register_trained(
    settings: Settings,
    clients: ClientFactory,
    plan_doc: dict[str, Any],
    job: TrainingJob,
    local: dict[str, Any] | None,
) -> ModelRecord:
    """Register what trained: ``local`` (``train_local``'s result) when the worker trained,
    else the SageMaker job, whose metrics SageMaker keeps."""
    if job.action == "local":
        if local is None:
            raise ValueError("the worker trained, but train_local left no result")
        artifact, job_name = local["artifact"], ""
        metrics = local_metrics(local.get("stats", {}))
    else:
        artifact, job_name = job.artifact, job.name
        metrics = sagemaker_metrics(clients, job_name)
    return register(
        settings,
        clients,
        plan_doc,
        plan_doc["algorithm"],
        artifact,
        metrics,
        job_name,
        job.source_uri,
    )


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
