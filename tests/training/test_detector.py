"""training.detector: every model gets its detector published beside it, whichever algorithm
trained it: kept when the trainer wrote it, copied out of a script-mode model.tar.gz, or built
through the serving endpoint from the same extracts (SageMaker's built-in model)."""

import io
import tarfile
import threading

import pytest

from lakewatch.aws.clients import Boto3Clients
from lakewatch.extract.daily import results_store
from lakewatch.local.emulator import free_port
from lakewatch.local.model_server import ModelServer
from lakewatch.model.detector import DETECTOR_FILE, Detector
from lakewatch.model.registry import ModelRecord
from lakewatch.names import artifact_key
from lakewatch.training.detector import publish_detector


@pytest.fixture
def published(aws, clients, trained, lake_pairs):
    """A model's artifact and extract parts in the results bucket, and its endpoint serving."""
    settings, _ = aws
    store = results_store(settings, clients)
    artifact = (trained[1] / "model.tar.gz").read_bytes()
    store.put("models/artifacts/ipi-t/model.tar.gz", artifact)
    ents, ips = lake_pairs
    lines = [f"{e},{ip}\n" for e, ip in zip(ents[:6000], ips[:6000], strict=True)]
    store.put("extracts/train/part-0.csv", "".join(lines[:5000]).encode())
    store.put("extracts/validation/part-0.csv", "".join(lines[5000:]).encode())
    record = ModelRecord(
        "ipi-t",
        store.uri("models/artifacts/ipi-t/model.tar.gz"),
        "builtin",
        {},
        {},
        [],
        extra={
            "train_parts": ["extracts/train/part-0.csv"],
            "validation_parts": ["extracts/validation/part-0.csv"],
        },
    )
    server = ModelServer(trained[1], port=free_port(), endpoint_name=settings.endpoint_name)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    via_endpoint = Boto3Clients(settings, endpoint_overrides={"sagemaker-runtime": server.url})
    yield settings, store, record, via_endpoint, server
    server.shutdown()
    server.server_close()


def test_the_builtin_models_detector_is_built_through_its_endpoint(published):
    settings, store, record, clients, server = published
    logged: list[str] = []
    out = publish_detector(settings, clients, record, log=logged.append)
    assert out["how"] == f"built through endpoint {settings.endpoint_name}"
    assert server.requests > 0  # the dot products came from the endpoint
    key = artifact_key(settings.models_prefix, "ipi-t", DETECTOR_FILE)
    found = Detector.from_bytes(store.get(key))
    assert found.meta["model"] == "ipi-t" and "ipi-t" in logged[0]
    requests = server.requests
    again = publish_detector(settings, clients, record)  # a rerun finds it in place
    assert again["how"] == "written by the trainer" and server.requests == requests


def test_a_script_mode_tarball_detector_is_copied_out(published):
    settings, store, record, clients, server = published
    detector_bytes = b"not parsed on the way through"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"./{DETECTOR_FILE}")
        info.size = len(detector_bytes)
        tar.addfile(info, io.BytesIO(detector_bytes))
    store.put("models/artifacts/ipi-t/model.tar.gz", buf.getvalue())
    out = publish_detector(settings, clients, record)
    assert out["how"] == "copied out of model.tar.gz" and server.requests == 0
    assert store.get(artifact_key(settings.models_prefix, "ipi-t", DETECTOR_FILE)) == (
        detector_bytes
    )


def test_a_record_without_parts_is_a_clear_error(published):
    settings, _, record, clients, _ = published
    record.extra = {}
    with pytest.raises(ValueError, match="lists no training parts"):
        publish_detector(settings, clients, record)
