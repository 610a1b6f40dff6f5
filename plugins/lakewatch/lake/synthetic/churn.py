"""Instance churn: each day a share of every service's instances is replaced by new instances
with the same behaviour (auto scaling, deploys, spot), as ``GenerateOptions.churn`` asks.

Every instance is replaced on a day with probability ``churn``: a Bernoulli draw from a stream
keyed by the seed and the day's stream key (``GenerateOptions.stream``), one draw per instance
index. The id an instance has on day D is that of its most recent replacement on or before D,
looking back at most ``LOOK_BACK`` days (none: its original id, ``World``'s). So the id on a
day depends on that day and the ones before it, never on where a generation started: a lake
written in pieces (the demo's quiet days, then today) is the lake written at once.

A replacement keeps what the instance does (service, peers, private address, subnet, zone) and
gets a new instance id (``i-`` + 17 hex) and a new ENI id, both drawn from a stream keyed by the
replacement day and the instance index. Everything that names an instance follows the day's
id: the VPC Flow endpoints (through the ENI columns), Route 53's ``src_endpoint.instance_uid``,
Security Hub's resources, the labels and so the truth file. The replacement happens at midnight:
an instance has one id all day.

``churn`` 0 draws nothing and changes nothing: the lake is byte for byte the lake without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from lakewatch.lake.synthetic.options import GenerateOptions
from lakewatch.lake.synthetic.world import World

LOOK_BACK = 60  # days: P(no replacement in 60 days) at churn 0.2 is 0.8**60, about 1e-6
_KEY = 2_000_003  # churn's random streams (no other stream of the generator uses the key)
_HEX = np.array(list("0123456789abcdef"))


@dataclass(frozen=True)
class DayIds:
    """The instances' ids on one day, by world instance index."""

    day: date
    uids: tuple[str, ...]
    enis: tuple[str, ...]
    since: tuple[date | None, ...]  # the day each id was first used; None: the original id

    def uid(self, index: int) -> str:
        return self.uids[index]

    @property
    def instance_uids(self) -> pa.Array:
        return pa.array(self.uids, pa.string())

    def eni_columns(self, base: dict[str, pa.Array]) -> dict[str, pa.Array]:
        """``Pools.eni`` with the instances' interfaces (the first rows, same index) renamed to
        the day's ENI and instance ids; the NAT and Lambda interfaces after them unchanged."""
        n = len(self.uids)
        return {
            **base,
            "interface_uid": pa.concat_arrays(
                [pa.array(self.enis, pa.string()), base["interface_uid"][n:]]
            ),
            "instance_uid": pa.concat_arrays([self.instance_uids, base["instance_uid"][n:]]),
        }


class Churn:
    """The instances' ids day by day for one lake's options."""

    def __init__(self, options: GenerateOptions, world: World):
        self.options = options
        self.n = len(world.instances)
        self.original = DayIds(
            date.min,
            tuple(i.uid for i in world.instances),
            tuple(i.eni for i in world.instances),
            (None,) * self.n,
        )
        self._draws: dict[date, np.ndarray] = {}

    def replaced(self, day: date) -> np.ndarray:
        """Which instances (by index) are replaced on ``day``."""
        if not self.options.churn:
            return np.zeros(self.n, bool)
        if day not in self._draws:
            if len(self._draws) > 4 * LOOK_BACK:
                self._draws.clear()
            rng = np.random.default_rng([self.options.seed, self.options.stream(day), _KEY])
            self._draws[day] = rng.random(self.n) < self.options.churn
        return self._draws[day]

    def ids(self, day: date) -> DayIds:
        """Every instance's instance id, ENI id and first day on ``day``."""
        if not self.options.churn:
            return DayIds(day, self.original.uids, self.original.enis, self.original.since)
        back = np.full(self.n, -1)
        for k in range(LOOK_BACK):
            hit = self.replaced(day - timedelta(days=k)) & (back < 0)
            back[hit] = k
        uids, enis = list(self.original.uids), list(self.original.enis)
        since: list[date | None] = [None] * self.n
        for index in np.flatnonzero(back >= 0):
            first = day - timedelta(days=int(back[index]))
            uids[index], enis[index] = self._new_ids(int(index), first)
            since[index] = first
        return DayIds(day, tuple(uids), tuple(enis), tuple(since))

    def _new_ids(self, index: int, first: date) -> tuple[str, str]:
        rng = np.random.default_rng(
            [self.options.seed, self.options.stream(first), _KEY, 1 + index]
        )
        digits = "".join(_HEX[rng.integers(0, 16, 34)])
        return f"i-{digits[:17]}", f"eni-{digits[17:]}"
