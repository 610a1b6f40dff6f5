"""What every endpoint deploy reports, whichever backend serves the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class DeployError(RuntimeError):
    """A deploy that did not leave the new model serving; the previous one still serves."""


@dataclass
class DeployResult:
    endpoint: str
    model_id: str
    previous_model_id: str
    changed: bool
    detail: dict[str, Any]
