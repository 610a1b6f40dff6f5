"""The RCF model artifact: ``model.tar.gz`` holding ``model.safetensors`` (the trees' arrays;
never pickle) and ``model.json`` (format ``lakewatch-rcf``, hyperparameters, training stats),
laid out as the IP Insights artifact is, so the local endpoints install either the same way and
``model.artifact.algorithm_of`` tells them apart by ``model.json`` alone.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load as st_load

from lakewatch import __version__
from lakewatch.extract.rcf_features import FeatureProfile
from lakewatch.model.artifact import (
    META,
    WEIGHTS,
    ArtifactError,
    read_model_files,
    save_model_files,
)
from lakewatch.model.rcf.forest import ARRAYS, RandomCutForest
from lakewatch.model.rcf.hyperparameters import RcfHyperparameters

FORMAT = "lakewatch-rcf"
FORMAT_VERSION = 1
ALGORITHM = "rcf"


@dataclass
class RcfArtifact:
    hp: RcfHyperparameters
    forest: RandomCutForest
    meta: dict[str, Any]

    @classmethod
    def create(cls, hp: RcfHyperparameters, forest: RandomCutForest, stats: dict[str, Any]):
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "algorithm": ALGORITHM,
            "lakewatch_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "hyperparameters": hp.to_dict(),
            "max_depth": forest.max_depth,
            "stats": stats,
        }
        return cls(hp, forest, meta)

    @property
    def model_id(self) -> str:
        return str(self.meta.get("model_id") or self.meta.get("created", "unknown"))

    @property
    def profile(self) -> FeatureProfile | None:
        """The features' standardization and usual values it was trained with (None: a
        model trained on a bare CSV)."""
        data = self.meta.get("features")
        return None if data is None else FeatureProfile.from_dict(data)

    def save(self, model_dir: str | Path, tarball: bool = True) -> Path:
        """``model.tar.gz`` (or, as SageMaker script mode wants, the plain files), written
        beside and renamed: a reader never sees half a model."""
        out = Path(model_dir)
        out.mkdir(parents=True, exist_ok=True)
        meta = json.dumps(self.meta, indent=2, sort_keys=True).encode()
        return save_model_files(out, self.forest.arrays(), meta, tarball)

    @classmethod
    def load(cls, location: str | Path | bytes) -> RcfArtifact:
        """From a directory (``model.tar.gz`` or the plain files), a tarball path, or bytes."""
        files, where = read_model_files(location)
        try:
            meta = json.loads(files[META])
        except ValueError as err:
            raise ArtifactError(f"{where}: {META} is not JSON: {err}") from None
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(
                f"{where}: not a {FORMAT} v{FORMAT_VERSION} model "
                f"(format={meta.get('format')!r} v{meta.get('format_version')!r})"
            )
        tensors = st_load(files[WEIGHTS])
        missing = sorted(set(ARRAYS) - set(tensors))
        if missing:
            raise ArtifactError(f"{where}: the model lacks {', '.join(missing)}")
        hp_meta = dict(meta["hyperparameters"])
        hp_meta["eval_metrics"] = tuple(hp_meta.get("eval_metrics", ()))
        hp = RcfHyperparameters(**hp_meta)
        forest = RandomCutForest(
            **{name: tensors[name] for name in ARRAYS}, max_depth=int(meta["max_depth"])
        )
        _check(hp, forest, where)
        return cls(hp, forest, meta)


def _check(hp: RcfHyperparameters, forest: RandomCutForest, where: object) -> None:
    """The arrays agree with the hyperparameters (a truncated or mixed-up file fails here,
    not as an out-of-bounds read in compiled code)."""
    nodes = hp.num_trees * (2 * hp.num_samples_per_tree - 1)
    if forest.num_trees != hp.num_trees or forest.feature_dim != hp.feature_dim:
        raise ArtifactError(
            f"{where}: {forest.num_trees} trees of {forest.feature_dim} features, "
            f"hyperparameters say {hp.num_trees} of {hp.feature_dim}"
        )
    for name in ARRAYS[2:]:
        if len(getattr(forest, name)) != nodes:
            raise ArtifactError(
                f"{where}: {name} has {len(getattr(forest, name))} nodes, not {nodes}"
            )
    left = forest.left
    if left.max(initial=-1) >= nodes - 1 or np.any(forest.roots >= nodes) or forest.max_depth < 0:
        raise ArtifactError(f"{where}: node references out of range")
    try:
        forest.scoring()  # every tree a binary tree within its own nodes, cuts in range
    except ValueError as err:
        raise ArtifactError(f"{where}: {err}") from None
