"""Shared fixtures: a moto emulator per test session, settings pointing at it, shared samples;
and how ``make test`` spreads the suite over pytest-xdist's workers (see "parallel runs")."""

from __future__ import annotations

import atexit
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from filelock import FileLock

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


# parallel runs -----------------------------------------------------------------------------
# `make test` runs the suite on pytest-xdist workers (-n, --dist loadfile): each worker is a
# session of its own (its emulator, Airflow home and model server on ports from the OS, its
# temporary folder), and a test file runs on one worker, so a module's fixtures are built once.

# The longest files, started first so that the workers finish together (a long file picked up
# last would run alone at the end). Measured on 2 cores; order only, nothing skipped.
SLOW_FIRST = (
    "tests/demo/test_demo_e2e.py",  # the demo end to end: Airflow, PostgreSQL, chromium
    "tests/demo/test_airflow_local_e2e.py",  # a second whole Airflow, on the CeleryExecutor
    "tests/test_bench_quick_model.py",  # python -m bench --quick, in three groups
    "tests/test_bench_quick.py",
    "tests/test_bench_quick_scoring.py",
    "tests/training/test_jobs.py",  # training on SageMaker's default schedule
    "tests/dags/test_scorer_e2e.py",
    "tests/dags/test_recalibrate_e2e.py",
    "tests/serving/test_lambda_artifacts.py",
    "tests/dags/test_train_e2e.py",
    "tests/backtest/test_run.py",
    "tests/reliability/test_faults.py",
)

# Files that share something of the machine's, run on one worker, one after the other (none
# now: the PostgreSQL servers' system user, which the first one started as root creates, is
# created under a lock, local.postgres._system_user).
ONE_WORKER: dict[str, str] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and config.option.basetemp:
        # xdist gives a worker <basetemp>/popen-gw0; PostgreSQL keeps its Unix socket under a
        # test's folder and refuses a socket path over 107 bytes: keep the worker's name short
        short = Path(config.option.basetemp).with_name(workerinput["workerid"])
        config.option.basetemp = str(short)


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # before xdist's own; xdist may be off
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """--dist loadfile, with ONE_WORKER's files as one unit. (xdist's own groups, loadgroup,
    name a test by rewriting its node id, which pytest 9 no longer reads.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FilesAndGroups(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return ONE_WORKER.get(path, path)

    return FilesAndGroups(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):
        return  # not an xdist worker: one process, in collection order as always

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return SLOW_FIRST.index(path) if path in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: files stay whole and in their order


def once_per_run(tmp_path_factory, name: str, build: Callable[[Path], Any]) -> Any:
    """``build(folder)`` once for the whole run: under xdist the first worker to ask builds it
    in a folder all workers share and the others wait for it and read it (a pickle); alone,
    pytest builds it as a session fixture always did. ``build`` writes only under ``folder``."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return build(tmp_path_factory.mktemp(name))
    run = tmp_path_factory.getbasetemp().parent  # the run's folder, above each worker's
    done = run / f"{name}.pickle"
    with FileLock(str(run / f"{name}.lock")):
        if not done.exists():
            folder = run / name
            shutil.rmtree(folder, ignore_errors=True)  # a worker that failed half way
            folder.mkdir()
            value = build(folder)
            part = done.with_suffix(".part")
            part.write_bytes(pickle.dumps(value))
            part.rename(done)
    return pickle.loads(done.read_bytes())


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
