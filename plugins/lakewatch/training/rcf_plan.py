"""The RCF model's training window: the extract's feature rows in, one training set out.

``plan_rcf`` runs ``extract.rcf_features.sql`` over the window's days on the backend's SQL
engine (DuckDB on ``local``, Athena on ``aws``: anything with ``query(sql, ctx)``), fits the
window's ``FeatureProfile`` and writes, under ``names.training_prefix(model_id)``, the
standardized rows as ``rcf/train.csv`` (the folder SageMaker's channel reads) and the profile
as ``features.json``. The model id hashes the window, its row count, the source version and
the hyperparameters, so a rerun of the same window finds the same id (and its files).

Then either backend trains from the same files: ``train_rcf_local`` (lakewatch's RCF, the
artifact and its ``features.json`` under ``names.artifact_key``) or ``rcf_job_config`` (the
CreateTrainingJob request for SageMaker's built-in RCF, which the provider's
``SageMakerTrainingOperator`` takes), after which ``publish_features`` puts the profile beside
the model as the local run does, where the scorer reads it.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import pyarrow as pa

from lakewatch import names
from lakewatch.aws.clients import ClientFactory
from lakewatch.extract import rcf_features
from lakewatch.extract.rcf_features import FEATURES, FEATURES_FILE, FeatureProfile
from lakewatch.extract.views import QueryContext
from lakewatch.lake.sink import ObjectStore
from lakewatch.model.rcf.hyperparameters import RcfHyperparameters, resolve_rcf
from lakewatch.training.plan import NotEnoughData
from lakewatch.training.rcf_jobs import prepare_training, run_rcf_training
from lakewatch.training.sagemaker import rcf_training_job_config


class FeatureQuery(Protocol):
    """What runs the features' SQL: ``DuckAthena`` or ``AthenaRunner``."""

    def query(self, athena_sql: str, ctx: QueryContext) -> pa.Table: ...


@dataclass
class RcfPlan:
    model_id: str
    window_start: str  # first day, YYYY-MM-DD
    window_end: str  # the day after the last
    rows: int  # instance-hours in the window
    instances: int
    train_key: str
    features_key: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)

    def hp(self) -> RcfHyperparameters:
        return resolve_rcf(self.hyperparameters, columns=len(FEATURES))

    def to_json(self) -> dict[str, Any]:
        """The plan as the DAG passes it (an XCom), with ``algorithm`` ``rcf``: what
        ``Backend.training_job`` dispatches on."""
        return {**asdict(self), "algorithm": "rcf"}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> RcfPlan:
        if doc.get("algorithm", "rcf") != "rcf":
            raise ValueError(f"not an RCF plan: algorithm {doc.get('algorithm')!r}")
        return cls(**{k: v for k, v in doc.items() if k != "algorithm"})


def window_rows(
    engine: FeatureQuery,
    *,
    region: str,
    source_version: str,
    window_end: date,
    window_days: int,
    dns: bool = True,
) -> pa.Table:
    """The feature rows of the ``window_days`` days before ``window_end``."""
    end = datetime.combine(window_end, datetime.min.time(), UTC)
    ctx = QueryContext(
        region=region,
        source_version=source_version,
        start=end - timedelta(days=window_days),
        end=end,
    )
    return engine.query(rcf_features.sql(ctx, dns=dns), ctx)


def plan_rcf(
    engine: FeatureQuery,
    store: ObjectStore,
    *,
    models_prefix: str,
    region: str,
    source_version: str,
    window_end: date,
    window_days: int = 7,
    min_rows: int = 500,
    hyperparameters: dict[str, Any] | None = None,
) -> RcfPlan:
    """The window's training set and profile written, its plan returned; ``NotEnoughData``
    for a window of fewer than ``min_rows`` instance-hours."""
    rows = window_rows(
        engine,
        region=region,
        source_version=source_version,
        window_end=window_end,
        window_days=window_days,
    )
    if rows.num_rows < min_rows:
        raise NotEnoughData(
            f"{rows.num_rows} instance-hours in the {window_days} days before {window_end} "
            f"(need {min_rows} to train RCF)"
        )
    given = dict(hyperparameters or {})
    hp = resolve_rcf(given, columns=len(FEATURES))
    start = window_end - timedelta(days=window_days)
    model_id = names.rcf_model_id(
        window_end,
        {
            "algorithm": "rcf",
            "window": [start.isoformat(), window_end.isoformat()],
            "rows": rows.num_rows,
            "source_version": source_version,
            "hyperparameters": hp.to_dict(),
        },
    )
    train_key = names.rcf_training_key(models_prefix, model_id)
    features_key = names.rcf_training_key(models_prefix, model_id, FEATURES_FILE)
    with tempfile.TemporaryDirectory(prefix="lakewatch-rcf-window-") as tmp:
        csv, profile = prepare_training(rows, tmp)
        store.put_file(train_key, csv)
    store.put(features_key, json.dumps(profile.as_dict()).encode())
    return RcfPlan(
        model_id=model_id,
        window_start=start.isoformat(),
        window_end=window_end.isoformat(),
        rows=rows.num_rows,
        instances=len(profile.usual),
        train_key=train_key,
        features_key=features_key,
        hyperparameters=hp.to_dict(),
    )


def _profile(store: ObjectStore, plan: RcfPlan) -> FeatureProfile:
    return FeatureProfile.from_dict(json.loads(store.get(plan.features_key)))


def model_folder(models_prefix: str, model_id: str) -> str:
    """The key prefix of a model's files (``model.tar.gz``, ``features.json``)."""
    return names.artifact_key(models_prefix, model_id, "")


def train_rcf_local(
    plan: RcfPlan,
    store: ObjectStore,
    clients: ClientFactory,
    *,
    models_prefix: str,
    seed: int = 0,
    log=print,
) -> str:
    """lakewatch's RCF on the plan's files; returns the artifact's URI."""
    hp = plan.hp()
    items = [f"num_trees={hp.num_trees}", f"num_samples_per_tree={hp.num_samples_per_tree}"]
    stats = run_rcf_training(
        store.uri(plan.train_key),
        store.uri(model_folder(models_prefix, plan.model_id)).rstrip("/"),
        items,
        clients=clients,
        seed=seed,
        profile=_profile(store, plan),
        log=log,
    )
    return str(stats["artifact"])


def rcf_job_config(
    plan: RcfPlan,
    store: ObjectStore,
    *,
    models_prefix: str,
    region: str,
    role_arn: str,
    instance_type: str,
) -> dict[str, Any]:
    """CreateTrainingJob for SageMaker's RCF over the plan's ``rcf/`` folder."""
    folder = plan.train_key.rsplit("/", 1)[0] + "/"
    return rcf_training_job_config(
        name=names.training_job_name(plan.model_id),
        hp=plan.hp(),
        region=region,
        role_arn=role_arn,
        train_uri=store.uri(folder),
        output_path=store.uri(names.sagemaker_output_prefix(models_prefix)),
        instance_type=instance_type,
        tags={"lakewatch:model-id": plan.model_id},
    )


def publish_features(store: ObjectStore, plan: RcfPlan, *, models_prefix: str) -> str:
    """The plan's profile beside the model (where a SageMaker job's model is registered):
    ``names.artifact_key(model_id, features.json)``, as ``train_rcf_local`` leaves it."""
    key = names.artifact_key(models_prefix, plan.model_id, FEATURES_FILE)
    store.put(key, store.get(plan.features_key))
    return store.uri(key)
