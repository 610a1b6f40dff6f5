"""Shared fixtures: a moto emulator per test session, settings pointing at it, shared samples."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from lakewatch.aws.clients import Boto3Clients
from lakewatch.local import emulator
from lakewatch.local.bootstrap import bootstrap
from lakewatch.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LAKEWATCH_SHARED_DIR", REPO.parent / "shared"))
SAMPLES = SHARED / "ocsf-samples"
SL_SAMPLES = SAMPLES / "aws-samples__amazon-security-lake-ocsf-validation/samples/1.0.0-rc.2"

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
    resources = bootstrap(settings, clients)
    return settings, resources
