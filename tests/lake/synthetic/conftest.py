"""A small world, its address pools and fresh time slices for the synthetic lake's unit tests."""

from datetime import date

import numpy as np
import pytest

from lakewatch.lake.synthetic.options import DAY_MS, day_ms
from lakewatch.lake.synthetic.pools import Pools
from lakewatch.lake.synthetic.slices import Slice
from lakewatch.lake.synthetic.world import World

DAY = date(2026, 11, 5)


@pytest.fixture(scope="package")
def world() -> World:
    return World(seed=3, accounts=2, instances_per_account=12, region="us-east-1")


@pytest.fixture(scope="package")
def pools(world) -> Pools:
    return Pools(world, seed=3)


@pytest.fixture
def make_slice(world, pools):
    def make(account: int = 0, seed: int = 1) -> Slice:
        t0 = day_ms(DAY)
        return Slice(world, pools, account, t0, t0 + DAY_MS // 4, np.random.default_rng(seed))

    return make
