"""Feature rows for the RCF tests: a Gaussian cloud and far-off points."""

import numpy as np
import pytest

from lakewatch.model.rcf.forest import fit
from lakewatch.model.rcf.hyperparameters import RcfHyperparameters


@pytest.fixture(scope="session")
def cloud():
    rng = np.random.default_rng(7)
    train = rng.normal(size=(4000, 5)).astype(np.float32)
    normal = rng.normal(size=(300, 5)).astype(np.float32)
    far = (rng.normal(size=(60, 5)) * 6).astype(np.float32)
    return train, normal, far


@pytest.fixture(scope="session")
def forest(cloud):
    train, _, _ = cloud
    return fit(train, RcfHyperparameters(feature_dim=5, num_trees=50), seed=3)
