"""serving.lambda_artifacts: ``lakewatch scorer package`` writes the two artifacts Lambda runs,
byte for byte the same on every build, within Lambda's limits; and the packaged function,
given only its layer and the runtime's boto3 (no site-packages, not the repository's source),
under ``lakewatch scorer run``, turns a real Security Lake object's notification into findings."""

import json
import sys
import zipfile
from datetime import date

from lakewatch.cli import main
from lakewatch.lake.layout import Source
from lakewatch.lake.notify import object_created
from lakewatch.lake.sink import S3Store
from lakewatch.review.rows import read_day
from lakewatch.serving.lambda_artifacts import write_artifacts
from tests.scoring.test_handler import _put_day_objects

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"  # a layer this test can load


def test_the_packaged_function_runs_from_its_layer_alone(scorer_env, clients, tmp_path, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["scorer", "package", "--out", str(first), "--python", PYTHON]) == 0
    assert "MiB of Lambda's 250 MiB unzipped" in capsys.readouterr().out
    write_artifacts(second, python=PYTHON)
    for name in ("function.zip", "layer.zip", "manifest.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["unzipped_total_bytes"] < manifest["unzipped_limit_bytes"]
    assert {"pyarrow", "duckdb", "numpy", "aws-lambda-powertools"} <= set(
        manifest["layer"]["packages"]
    )
    assert "boto3" not in manifest["layer"]["packages"]  # Lambda's runtime provides it

    app, layer = tmp_path / "app", tmp_path / "layer"
    zipfile.ZipFile(first / "function.zip").extractall(app)
    zipfile.ZipFile(first / "layer.zip").extractall(layer)
    assert not (layer / "python" / "pyarrow" / "tests").exists()

    lake = scorer_env.lake_bucket_name
    day = date(2026, 11, 3)
    vpc = next(
        o for o in _put_day_objects(clients, lake, day) if o.source is Source.VPC_FLOW and o.labels
    )
    sqs = clients("sqs")
    queue = sqs.get_queue_url(QueueName=scorer_env.queue_name)["QueueUrl"]
    notification = object_created(lake, vpc.key, 1, "e", "us-east-1", "123456789012")
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(notification))
    argv = ["scorer", "run", "--app-dir", str(app), "--layer-dir", str(layer)]
    assert main([*argv, "--idle-exit", "1", "--batching-window", "0.1"]) == 0
    stats = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (stats["received"], stats["deleted"], stats["failed"]) == (1, 1, 0)
    store = S3Store(clients("s3"), scorer_env.results_bucket_name)
    findings = read_day(store, scorer_env.findings_prefix, day)
    assert findings and all(vpc.key in str(f["unmapped"]) for f in findings)
