"""The RCF deploy's smoke check: the live endpoint must score far-off rows above normal ones.

The normal rows are the training window's (standardized, as the model was trained on them);
each is matched with a copy pushed ``shift`` standard deviations off on one feature chosen at
random (a port class's count or the bytes of an hour far beyond anything seen). The endpoint
passes when the far rows outscore the normal ones with an AUC of at least ``min_auc``;
otherwise the deploy is rolled back, as the IP Insights smoke check does
(``serving.smoke``). It checks what serves, through ``aws.endpoint.invoke_rcf``: SageMaker's
built-in RCF on ``aws``, lakewatch's model server on ``local``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lakewatch.aws.endpoint import invoke_rcf
from lakewatch.metrics import roc_auc
from lakewatch.serving.smoke import SmokeCheckFailed


@dataclass
class RcfSmokeResult:
    auc: float
    rows: int
    normal_median: float
    far_median: float

    def line(self) -> str:
        return (
            f"RCF smoke check: AUC {self.auc:.3f} over {self.rows} normal vs far rows "
            f"(median score {self.normal_median:.3f} vs {self.far_median:.3f})"
        )


def far_rows(normal: np.ndarray, shift: float = 8.0, seed: int = 0) -> np.ndarray:
    """Each row with one feature, chosen at random, moved ``shift`` (standardized units)
    above its value."""
    rng = np.random.default_rng(seed)
    far = np.array(normal, dtype=np.float64, copy=True)
    far[np.arange(len(far)), rng.integers(0, far.shape[1], len(far))] += shift
    return far


def rcf_smoke_check(
    runtime: Any,
    endpoint: str,
    normal: np.ndarray,
    min_auc: float = 0.9,
    max_rows: int = 500,
    seed: int = 0,
) -> RcfSmokeResult:
    rows = np.asarray(normal, dtype=np.float64)
    if rows.ndim != 2 or not len(rows):
        raise SmokeCheckFailed("no normal rows to check the RCF endpoint with")
    if len(rows) > max_rows:
        rows = rows[np.random.default_rng(seed).choice(len(rows), max_rows, replace=False)]
    ok = invoke_rcf(runtime, endpoint, rows)
    far = invoke_rcf(runtime, endpoint, far_rows(rows, seed=seed))
    result = RcfSmokeResult(
        roc_auc(far, ok), len(rows), float(np.median(ok)), float(np.median(far))
    )
    if result.auc < min_auc:
        raise SmokeCheckFailed(f"{result.line()}: below the required {min_auc}")
    return result
