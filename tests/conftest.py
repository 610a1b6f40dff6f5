"""Shared fixtures: a moto emulator per test session, settings pointing at it, shared samples."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lakewatch.aws.clients import Boto3Clients
from lakewatch.backends import backend_for
from lakewatch.lake.layout import Source
from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
from lakewatch.local import emulator
from lakewatch.settings import Settings

# the scoring stack (a model on the default views, its endpoint and threshold), shared by
# tests/scoring and tests/reliability
pytest_plugins = ["tests.scoring_stack"]

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LAKEWATCH_SHARED_DIR", REPO.parent / "shared"))
SAMPLES = SHARED / "ocsf-samples"
SL_SAMPLES = SAMPLES / "aws-samples__amazon-security-lake-ocsf-validation/samples/1.0.0-rc.2"

# Airflow reads its configuration when first imported: point it at a throwaway home with the
# project's DAGs before any test imports it.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="lakewatch-airflow-"))
atexit.register(shutil.rmtree, _AIRFLOW_HOME, ignore_errors=True)
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "LAKEWATCH_SQL_DIR": str(REPO / "include" / "sql"),
    }
)
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _var in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
    os.environ.pop(_var, None)


@pytest.fixture(scope="session")
def samples() -> Path:
    """The real OCSF samples in ../shared; tests using them skip where the folder is absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"shared OCSF samples not present at {SAMPLES}")
    return SAMPLES


@pytest.fixture(scope="session")
def emulator_settings(tmp_path_factory) -> Settings:
    """A moto server of this test session's own, on a free loopback port."""
    state = tmp_path_factory.mktemp("lakewatch-state")
    settings = Settings(
        emulator_port=emulator.free_port(), state_dir=state, model_server_port=emulator.free_port()
    )
    emulator.start(settings)
    yield settings
    emulator.stop(settings)


@pytest.fixture(scope="session")
def clients(emulator_settings) -> Boto3Clients:
    return Boto3Clients(emulator_settings)


@pytest.fixture
def aws(emulator_settings, clients):
    """Settings with fresh, uniquely named buckets and queues in the emulator."""
    tag = uuid.uuid4().hex[:10]
    settings = emulator_settings.model_copy(
        update={
            "lake_suffix": f"t{tag}",
            "results_bucket": f"lakewatch-results-{tag}",
            "queue_name": f"lakewatch-q-{tag}",
            "dlq_name": f"lakewatch-dlq-{tag}",
        }
    )
    resources = backend_for(settings).provision(clients)
    return settings, resources


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated Airflow metadata database with the pool the DAGs use."""
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], check=True, capture_output=True)
    subprocess.run(
        [
            *airflow,
            "pools",
            "set",
            "--include-deferred",
            "lakewatch_endpoint",
            "1",
            "one deploy at a time",
        ],
        check=True,
        capture_output=True,
    )
    return _AIRFLOW_HOME


@pytest.fixture
def airflow_env(aws, airflow_db, monkeypatch, tmp_path):
    """Tasks run against this test's emulator resources, through aws_default and the Variable."""
    settings, resources = aws
    settings = settings.model_copy(update={"state_dir": tmp_path / "state"})
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {
                    "endpoint_url": settings.resolved_endpoint_url,
                    "region_name": "us-east-1",
                },
            }
        ),
    )
    overrides = {k: str(v) for k, v in settings.model_dump(exclude_defaults=True).items()}
    monkeypatch.setenv("AIRFLOW_VAR_LAKEWATCH", json.dumps(overrides))
    yield settings, resources
    from lakewatch.local.processes import ProcessRegistry

    ProcessRegistry(settings.run_dir).stop_all()


# model fixtures shared by model, serving and scorer tests ------------------------------


def egress_pairs(days: int = 2, rows: int = 40_000, seed: int = 5) -> tuple[list[str], list[str]]:
    """(instance, destination address) of outbound IPv4 flows in a generated lake."""
    gen = LakeGenerator(
        GenerateOptions(days=days, start=date(2026, 11, 1), rows_per_day=rows, seed=seed)
    )
    ents, ips = [], []
    for obj in gen.objects():
        if obj.source is not Source.VPC_FLOW:
            continue
        t = obj.table.combine_chunks()
        ent = pc.struct_field(t["src_endpoint"], "instance_uid")
        ip = pc.struct_field(t["dst_endpoint"], "ip")
        keep = pc.fill_null(
            pc.and_(pc.not_equal(ent, "-"), pc.match_substring_regex(ip, r"^\d+\.\d+\.\d+\.\d+$")),
            False,
        )
        ents.append(ent.filter(keep))
        ips.append(ip.filter(keep))
    return (pa.chunked_array(ents).to_pylist(), pa.chunked_array(ips).to_pylist())


@pytest.fixture(scope="session")
def lake_pairs():
    return egress_pairs()


@pytest.fixture(scope="session")
def trained(lake_pairs, tmp_path_factory):
    """A small model trained on the lake's pairs, saved as model.tar.gz."""
    from lakewatch.model.artifact import ModelArtifact
    from lakewatch.model.data import pairs_from_lists
    from lakewatch.model.hyperparameters import resolve
    from lakewatch.model.train import train

    ents, ips = lake_pairs
    pairs = pairs_from_lists(ents, ips)
    hp = resolve(
        {"epochs": 4, "vector_dim": 32, "mini_batch_size": 2000},
        distinct_entities=len(set(ents)),
        distinct_addresses=len(set(ips)),
    )
    result = train(pairs, hp, log=lambda s: None)
    model_dir = tmp_path_factory.mktemp("model")
    ModelArtifact.from_training(result).save(model_dir)
    return result, model_dir


@pytest.fixture
def csvs(lake_pairs, tmp_path):
    """Training and validation CSVs of the lake's pairs (8,000 and 2,000)."""
    ents, ips = lake_pairs
    train = write_csv(tmp_path / "train.csv", list(zip(ents[:8000], ips[:8000], strict=True)))
    val = write_csv(tmp_path / "val.csv", list(zip(ents[8000:10000], ips[8000:10000], strict=True)))
    return train, val


def write_csv(path, rows) -> str:
    path.write_text("".join(f"{e},{ip}\n" for e, ip in rows))
    return str(path)


def auc_of(scores_pos, scores_neg) -> float:
    from lakewatch.metrics import roc_auc

    return roc_auc(np.asarray(scores_pos), np.asarray(scores_neg))
