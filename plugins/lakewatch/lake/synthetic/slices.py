"""One account's time slice while it is written: where its blocks and labels accumulate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from lakewatch.lake.synthetic.blocks import dns_block, vpc_block
from lakewatch.lake.synthetic.churn import DayIds
from lakewatch.lake.synthetic.options import Event, Label
from lakewatch.lake.synthetic.pools import Pools
from lakewatch.lake.synthetic.world import Instance, World


@dataclass
class Slice:
    world: World
    pools: Pools
    account: int
    t0: int  # epoch ms, inclusive
    t1: int  # epoch ms, exclusive
    rng: np.random.Generator
    vpc: list[dict[str, pa.Array]] = field(default_factory=list)
    dns: list[dict[str, pa.Array]] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    # the day's instance ids where instances churn (``churn.py``); None: the world's own
    ids: DayIds | None = None

    @property
    def instances(self) -> np.ndarray:
        """The account's instances (world indices)."""
        return np.array(self.world.accounts[self.account].instances)

    def uid(self, instance: Instance) -> str:
        """The instance's id on the slice's day."""
        return self.ids.uid(instance.index) if self.ids else instance.uid

    @property
    def instance_uids(self) -> pa.Array:
        """Every instance's id on the slice's day, by world index."""
        return self.ids.instance_uids if self.ids else self.pools.instance_uids

    def address(self, index: np.ndarray) -> pa.Array:
        return self.pools.address(index)

    def flows(self, times, **columns: Any) -> None:
        """Append VPC Flow rows (``blocks.vpc_block``)."""
        self.vpc.append(vpc_block(times, **columns))

    def queries(self, times, *, from_resolver: bool = False, **columns: Any) -> None:
        """Append Route 53 rows (``blocks.dns_block``); ``from_resolver``: on-premises
        clients through the account's resolver endpoint."""
        endpoint = self.world.accounts[self.account].resolver_endpoint
        self.dns.append(
            dns_block(times, resolver=endpoint if from_resolver else None, rng=self.rng, **columns)
        )

    def label(self, event: Event, entity: str, ip: str, view: str, source="VPC_FLOW") -> int:
        """Record an anomalous pair; returns the label index its rows carry."""
        self.labels.append(Label(event.event_id, event.kind, entity, ip, view, source))
        return len(self.labels) - 1
