"""Writing the model's and the detector's files: whole or not at all, readable by the server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file


def write_atomic(path: Path, body: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(body)
    tmp.replace(path)


def write_tensors(
    path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None
) -> Path:
    """A safetensors file written straight from the arrays (never copied into memory), beside
    ``path`` and renamed into place; readable by all, as ``write_atomic``'s files are
    (safetensors creates its files owner-only)."""
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, tmp, metadata=metadata)
    tmp.chmod(0o644)
    tmp.replace(path)
    return path
