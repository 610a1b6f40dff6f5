"""The scorer's two deployment artifacts, written where a pipeline picks them up.

``function.zip`` holds the handler and the lakewatch modules it imports (``lambda_package``);
``layer.zip`` its dependencies for Lambda's runtime (``lambda_layer``). ``manifest.json`` says
what was built: hashes, sizes against Lambda's limits, the runtime, the pinned packages. The
deploy DAG and the SAM template deploy these two files, so what was tested is what runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lakewatch.serving.lambda_layer import (
    LAMBDA_PYTHON,
    UNZIPPED_LIMIT,
    build_layer,
)
from lakewatch.serving.lambda_package import build, unzipped_size

DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024  # zipped; larger goes through S3


def write_artifacts(out: Path, python: str = LAMBDA_PYTHON, arch: str = "x86_64") -> dict[str, Any]:
    """Write ``function.zip``, ``layer.zip`` and ``manifest.json`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    function = build()
    function_bytes = unzipped_size(function.body)
    layer = build_layer(python=python, arch=arch, function_bytes=function_bytes)
    (out / "function.zip").write_bytes(function.body)
    (out / "layer.zip").write_bytes(layer.body)
    manifest = {
        "runtime": f"python{python}",
        "architecture": arch,
        "function": {
            "sha256": function.sha256,
            "zipped_bytes": len(function.body),
            "unzipped_bytes": function_bytes,
        },
        "layer": {
            "sha256": layer.sha256,
            "zipped_bytes": len(layer.body),
            "unzipped_bytes": layer.unzipped_bytes,
            "packages": layer.packages,
            "platforms": layer.platforms,
            "upload": "s3" if len(layer.body) > DIRECT_UPLOAD_LIMIT else "direct",
        },
        "unzipped_total_bytes": function_bytes + layer.unzipped_bytes,
        "unzipped_limit_bytes": UNZIPPED_LIMIT,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
