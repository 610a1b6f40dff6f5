"""The deploy smoke check: the live endpoint must tell known-normal pairs from random ones.

Normal pairs come from the training data; each is matched with a uniformly random address for
the same entity. The endpoint passes when the normal pairs outscore the random ones with an AUC
of at least ``min_auc``; otherwise the deploy is rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lakewatch.aws.endpoint import invoke_pairs
from lakewatch.metrics import roc_auc


class SmokeCheckFailed(RuntimeError):
    """The endpoint does not separate normal from random pairs well enough."""


@dataclass
class SmokeResult:
    auc: float
    pairs: int
    normal_median: float
    random_median: float

    def line(self) -> str:
        return (
            f"smoke check: AUC {self.auc:.3f} over {self.pairs} normal vs random pairs "
            f"(median score {self.normal_median:.3f} vs {self.random_median:.3f})"
        )


def smoke_check(
    runtime: Any,
    endpoint: str,
    entities: Sequence[str],
    addresses: Sequence[str],
    min_auc: float = 0.8,
    seed: int = 0,
) -> SmokeResult:
    if not entities:
        raise SmokeCheckFailed("no known-normal pairs to check the endpoint with")
    rng = np.random.default_rng(seed)
    random_ips = [".".join(str(int(x)) for x in rng.integers(1, 255, 4)) for _ in entities]
    normal = invoke_pairs(runtime, endpoint, entities, addresses).dot_product
    fake = invoke_pairs(runtime, endpoint, entities, random_ips).dot_product
    ok = ~np.isnan(normal)
    result = SmokeResult(
        roc_auc(normal[ok], fake[~np.isnan(fake)]),
        int(ok.sum()),
        float(np.median(normal[ok])),
        float(np.nanmedian(fake)),
    )
    if result.auc < min_auc:
        raise SmokeCheckFailed(f"{result.line()}: below the required {min_auc}")
    return result
