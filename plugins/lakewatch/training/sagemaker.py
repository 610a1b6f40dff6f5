"""SageMaker configurations: training jobs and models, built-in IP Insights or lakewatch's own.

``builtin`` uses AWS's ``ipinsights`` image (IPv4 only, SageMaker's hyperparameters only).
``lakewatch`` runs ``lakewatch train`` in script mode on the PyTorch training container (GPU when
the instance has one) and serves with the PyTorch inference container calling
``lakewatch.serving.sagemaker_entry``; both get the package as a deterministic source tarball.
The dicts are the AWS API's own shapes (CreateTrainingJob, CreateModel).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from lakewatch.model.hyperparameters import Hyperparameters
from lakewatch.model.rcf.hyperparameters import RcfHyperparameters

ALGORITHMS = ("builtin", "lakewatch")
PYTORCH_VERSION = "2.3"
PY_VERSION = "py311"
_ENTRY = "lakewatch_entry.py"


def image_uri(framework: str, region: str, instance_type: str, scope: str = "training") -> str:
    from sagemaker.core import image_uris

    if framework == "ipinsights":
        return image_uris.retrieve("ipinsights", region)
    return image_uris.retrieve(
        "pytorch",
        region,
        version=PYTORCH_VERSION,
        py_version=PY_VERSION,
        instance_type=instance_type,
        image_scope=scope,
    )


def source_tarball(package_root: Path | None = None) -> tuple[bytes, str]:
    """``sourcedir.tar.gz`` with the lakewatch package and the entry script; same bytes for
    the same sources (sorted, fixed mtimes), so its key can be its hash."""
    root = package_root or Path(__file__).resolve().parents[1]
    files: dict[str, bytes] = {
        _ENTRY: (
            b"from lakewatch.serving.sagemaker_entry import *  # noqa: F401,F403\n"
            b"from lakewatch.cli import run\n\n"
            b"if __name__ == '__main__':\n    run(['train'])\n"
        ),
        "requirements.txt": b"pyarrow\nsafetensors\npydantic-settings\nboto3\nthreadpoolctl\n",
    }
    for path in sorted(root.rglob("*.py")):
        files[f"lakewatch/{path.relative_to(root).as_posix()}"] = path.read_bytes()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), 0, 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    # gzip's header holds a timestamp: zero it, or two builds a second apart differ
    body = gzip.compress(buf.getvalue(), mtime=0)
    return body, hashlib.sha256(body).hexdigest()[:16]


def training_job_config(
    *,
    name: str,
    algorithm: str,
    hp: Hyperparameters,
    region: str,
    role_arn: str,
    train_manifest: str,
    validation_manifest: str,
    output_path: str,
    instance_type: str,
    source_uri: str = "",
    max_runtime_s: int = 4 * 3600,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, not {algorithm!r}")
    if not role_arn:
        raise ValueError("training on SageMaker needs LAKEWATCH_SAGEMAKER_ROLE_ARN")
    if algorithm == "builtin":
        image, hyperparameters = image_uri("ipinsights", region, instance_type), hp.sagemaker()
    else:
        if not source_uri:
            raise ValueError("script mode needs the uploaded source tarball's S3 URI")
        image = image_uri("pytorch", region, instance_type)
        hyperparameters = {k: json.dumps(v) for k, v in hp.to_dict().items()}
        hyperparameters.update(
            sagemaker_program=json.dumps(_ENTRY),
            sagemaker_submit_directory=json.dumps(source_uri),
            sagemaker_region=json.dumps(region),
        )
    channels = [("train", train_manifest), ("validation", validation_manifest)]
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": role_arn,
        "HyperParameters": hyperparameters,
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "ManifestFile",
                        "S3Uri": uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for channel, uri in channels
        ],
        "OutputDataConfig": {"S3OutputPath": output_path.rstrip("/") + "/"},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_s},
        "Tags": [{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())],
    }


def artifact_uri(config: dict[str, Any]) -> str:
    """Where SageMaker puts the job's model.tar.gz."""
    return (
        f"{config['OutputDataConfig']['S3OutputPath']}{config['TrainingJobName']}/output/"
        "model.tar.gz"
    )


def model_config(
    *,
    name: str,
    algorithm: str,
    artifact: str,
    region: str,
    role_arn: str,
    instance_type: str,
    source_uri: str = "",
) -> dict[str, Any]:
    """CreateModel for an endpoint that serves ``artifact``."""
    container: dict[str, Any]
    if algorithm == "builtin":
        container = {
            "Image": image_uri("ipinsights", region, instance_type),
            "ModelDataUrl": artifact,
        }
    else:
        container = {
            "Image": image_uri("pytorch", region, instance_type, scope="inference"),
            "ModelDataUrl": artifact,
            "Environment": {
                "SAGEMAKER_PROGRAM": _ENTRY,
                "SAGEMAKER_SUBMIT_DIRECTORY": source_uri,
                "SAGEMAKER_REGION": region,
            },
        }
    return {"ModelName": name, "PrimaryContainer": container, "ExecutionRoleArn": role_arn}


# SageMaker's built-in Random Cut Forest (the aws backend's RCF) ----------------------------

RCF_IMAGE = "randomcutforest"
# headerless numeric CSV, no label column: the rows ``rcf_jobs.prepare_training`` writes
RCF_CONTENT_TYPE = "text/csv;label_size=0"


def rcf_image_uri(region: str) -> str:
    from sagemaker.core import image_uris

    return image_uris.retrieve(RCF_IMAGE, region)


def rcf_hyperparameters(hp: RcfHyperparameters) -> dict[str, str]:
    """SageMaker RCF's hyperparameters, as the API takes them (strings); ``eval_metrics``
    only with a labelled test channel, which the training window has not."""
    return {
        "feature_dim": str(hp.feature_dim),
        "num_trees": str(hp.num_trees),
        "num_samples_per_tree": str(hp.num_samples_per_tree),
    }


def rcf_training_job_config(
    *,
    name: str,
    hp: RcfHyperparameters,
    region: str,
    role_arn: str,
    train_uri: str,
    output_path: str,
    instance_type: str,
    instance_count: int = 1,
    max_runtime_s: int = 2 * 3600,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """CreateTrainingJob for SageMaker's built-in RCF over the window's CSV parts under
    ``train_uri`` (an S3 prefix): ``ShardedByS3Key``, as AWS recommends for RCF, so each
    instance of a multi-instance job samples its own share of the parts. The dict is what
    the Amazon provider's ``SageMakerTrainingOperator`` takes as ``config``."""
    if not role_arn:
        raise ValueError("training on SageMaker needs LAKEWATCH_SAGEMAKER_ROLE_ARN")
    if not train_uri.startswith("s3://"):
        raise ValueError(f"SageMaker reads its training data from S3, not {train_uri!r}")
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": rcf_image_uri(region),
            "TrainingInputMode": "File",
        },
        "RoleArn": role_arn,
        "HyperParameters": rcf_hyperparameters(hp),
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": RCF_CONTENT_TYPE,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": train_uri.rstrip("/") + "/",
                        "S3DataDistributionType": "ShardedByS3Key",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": output_path.rstrip("/") + "/"},
        "ResourceConfig": {
            "InstanceType": instance_type,
            "InstanceCount": instance_count,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_s},
        "Tags": [{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())],
    }


def rcf_model_config(*, name: str, artifact: str, region: str, role_arn: str) -> dict[str, Any]:
    """CreateModel for an endpoint serving the built-in RCF's ``artifact``: it answers
    ``{"scores": [{"score": x}, ...]}`` to ``text/csv`` rows, as lakewatch's model server
    does for the local backend (``model.rcf.protocol``)."""
    return {
        "ModelName": name,
        "PrimaryContainer": {"Image": rcf_image_uri(region), "ModelDataUrl": artifact},
        "ExecutionRoleArn": role_arn,
    }
