"""A scoring stack in the emulator: lake, model on the default views, endpoint, threshold."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from lakewatch.extract.engine import DuckAthena, LakeLocation
from lakewatch.extract.views import QueryContext, render
from lakewatch.lake.sink import LocalStore
from lakewatch.lake.synthetic import GenerateOptions
from lakewatch.lake.write import write_lake
from lakewatch.local.endpoints import LocalEndpoints
from lakewatch.model.artifact import ModelArtifact
from lakewatch.model.data import pairs_from_lists
from lakewatch.model.hyperparameters import resolve
from lakewatch.model.inference import Inference
from lakewatch.model.train import train
from lakewatch.serving.lambda_config import local_environment, scorer_config
from lakewatch.threshold.choose import threshold_for_fpr
from tests.conftest import once_per_run

START = date(2026, 11, 1)
DAYS = 3
SEED = 31


@pytest.fixture(scope="session")
def trained_on_views(tmp_path_factory):
    """A model trained on the default views of days 1-2 of a lake, like lakewatch_train's;
    built once for the run (the suite's most expensive fixture) and read by every worker."""
    return once_per_run(tmp_path_factory, "trained-on-views", _train_on_views)


def _train_on_views(folder: Path) -> dict:
    root = folder / "scoring-lake"
    write_lake(
        GenerateOptions(days=DAYS - 1, start=START, rows_per_day=20_000, seed=SEED),
        LocalStore(root),
    )
    ctx = QueryContext(
        region="us-east-1",
        source_version="2.0",
        start=datetime.combine(START, datetime.min.time(), UTC),
        end=datetime.combine(START + timedelta(days=DAYS - 1), datetime.min.time(), UTC),
    )
    rows = DuckAthena(LakeLocation.open(str(root))).query(render("extract.sql", ctx), ctx)
    ents, ips = rows["entity"].to_pylist(), rows["ip"].to_pylist()
    result = train(
        pairs_from_lists(ents, ips),
        resolve(
            {"epochs": 12, "vector_dim": 64, "mini_batch_size": 1000},
            distinct_entities=len(set(ents)),
        ),
        log=lambda s: None,
    )
    model_dir = folder / "scoring-model"
    art = ModelArtifact.from_training(result)
    art.save(model_dir)
    # as the recalibration reads its normal set: distinct pairs (the scorer flags each distinct
    # pair once), of every view (not the query's first rows: their view depends on the scan)
    distinct = sorted(set(zip(ents, ips, strict=True)))
    normal = Inference(art).score([e for e, _ in distinct], [a for _, a in distinct]).dot_product
    q25, q75 = np.quantile(normal, [0.25, 0.75])
    return {
        "model_dir": model_dir,
        "threshold": threshold_for_fpr(normal, 0.01),
        # as the recalibration publishes it: a scan's members are read at 10x the target
        "loose_threshold": threshold_for_fpr(normal, 0.1),
        "scale": float(q75 - q25),
        "pairs": list(zip(ents, ips, strict=True)),
    }


@pytest.fixture
def stack(aws, clients, trained_on_views, tmp_path):
    """Endpoint serving the model, threshold in SSM, for this test's emulator resources."""
    settings, resources = aws
    settings = settings.model_copy(update={"state_dir": tmp_path / "state"})
    endpoints = LocalEndpoints(settings)
    model_dir = endpoints.install(
        "ipi-test", (trained_on_views["model_dir"] / "model.tar.gz").read_bytes()
    )
    endpoints.deploy(settings.endpoint_name, "ipi-test", model_dir)
    clients("ssm").put_parameter(
        Name=settings.threshold_parameter,
        Type="String",
        Overwrite=True,
        Value=json.dumps(
            {
                "threshold": trained_on_views["threshold"],
                "model_id": "ipi-test",
                "day": "2026-11-02",
                "target_fpr": 0.01,
                "scale": trained_on_views["scale"],
                "loose_threshold": trained_on_views["loose_threshold"],
            }
        ),
    )
    yield settings, resources
    endpoints.processes.stop_all()


@pytest.fixture
def scorer_env(stack, clients, monkeypatch):
    """The stack's settings and the scorer's environment, as the CLI and a deploy see them."""
    settings, _ = stack
    for k, v in local_environment(settings, scorer_config(settings, clients)).items():
        monkeypatch.setenv(k, v)
    for name in ("emulator_port", "state_dir", "results_bucket", "queue_name", "dlq_name"):
        monkeypatch.setenv(f"LAKEWATCH_{name.upper()}", str(getattr(settings, name)))
    monkeypatch.setenv("LAKEWATCH_LAKE_SUFFIX", settings.lake_suffix)
    return settings
