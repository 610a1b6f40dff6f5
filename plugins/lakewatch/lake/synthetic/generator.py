"""The synthetic lake, object by object: one account, one time slice of a day, one source.

It streams, so memory is bounded by an object, not by the lake. Everything comes from the
seed through per-day and per-slice random streams, so the same seed writes the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakewatch.lake.layout import Source, object_key
from lakewatch.lake.synthetic.anomalies import inject
from lakewatch.lake.synthetic.ocsf import OcsfTables
from lakewatch.lake.synthetic.options import (
    ANOMALY_KINDS,
    DAY_MS,
    Event,
    GeneratedObject,
    GenerateOptions,
    Label,
    day_ms,
)
from lakewatch.lake.synthetic.pools import Pools
from lakewatch.lake.synthetic.security_hub import findings_for_day, sh_table
from lakewatch.lake.synthetic.slices import Slice
from lakewatch.lake.synthetic.traffic import Usage, daily_usage, normal_traffic
from lakewatch.lake.synthetic.world import World


class LakeGenerator:
    """Yields the objects of a synthetic lake, day by day."""

    def __init__(self, options: GenerateOptions):
        self.options = options
        self.world = World(
            options.seed, options.accounts, options.instances_per_account, options.region
        )
        self.pools = Pools(self.world, options.seed)
        self.tables = OcsfTables(options.source_version, options.region, self.pools.eni)
        rows_account = options.rows_per_day / options.accounts
        self.slices = min(24, max(2, math.ceil(rows_account / options.max_rows_per_object)))

    def objects(self) -> Iterator[GeneratedObject]:
        for d in range(self.options.days):
            yield from self.day_objects(self.options.first_day + timedelta(days=d))

    def day_objects(self, day: date) -> Iterator[GeneratedObject]:
        o = self.options
        day_rng = np.random.default_rng([o.seed, o.stream(day)])
        usage = daily_usage(self.pools, day_rng)
        events = self._plan_events(day, day_rng)
        rows_account = o.rows_per_day / o.accounts
        for account in range(o.accounts):
            labels: list[Label] = []
            for s in range(self.slices):
                sl = Slice(
                    self.world,
                    self.pools,
                    account,
                    t0=day_ms(day) + s * DAY_MS // self.slices,
                    t1=day_ms(day) + (s + 1) * DAY_MS // self.slices,
                    rng=np.random.default_rng([o.seed, o.stream(day), account, s]),
                )
                self._write(
                    sl,
                    n_vpc=int(rows_account * (1 - o.dns_share) / self.slices),
                    n_dns=int(rows_account * o.dns_share / self.slices),
                    usage=usage,
                    events=[e for e in events if e.account == account and e.slice == s],
                )
                for source, blocks in ((Source.VPC_FLOW, sl.vpc), (Source.ROUTE53, sl.dns)):
                    if blocks:
                        obj = self._object(source, blocks, day, sl)
                        labels.extend(obj.labels)
                        yield obj
            if o.security_hub and o.source_version == "2.0":
                yield self._security_hub_object(day, account, labels)

    def _plan_events(self, day: date, rng: np.random.Generator) -> list[Event]:
        """The day's anomalies, each in a random account and slice."""
        per_kind = self.options.anomalies_per_kind
        if per_kind is None:
            per_kind = self.options.accounts
        return [
            Event(
                f"{day:%Y%m%d}-{kind}-{k}",
                kind,
                int(rng.integers(0, self.options.accounts)),
                int(rng.integers(0, self.slices)),
            )
            for kind in ANOMALY_KINDS
            for k in range(per_kind)
        ]

    @staticmethod
    def _write(sl: Slice, n_vpc: int, n_dns: int, usage: Usage, events: list[Event]) -> None:
        normal_traffic(sl, n_vpc, n_dns, usage)
        for event in events:
            inject(sl, event)

    def _security_hub_object(self, day: date, account: int, labels: list[Label]) -> GeneratedObject:
        """The account's Security Hub findings of the day (``security_hub.py``)."""
        o = self.options
        rng = np.random.default_rng([o.seed, o.stream(day), account, 1_000_003])
        instances = [self.world.instances[j] for j in self.world.accounts[account].instances]
        account_uid = self.world.accounts[account].uid
        found = findings_for_day(labels, instances, day_ms(day), rng)
        table = sh_table(found, account_uid, o.region)
        name = rng.bytes(16).hex() + ".gz.parquet"
        key = object_key(Source.SH_FINDINGS, o.source_version, o.region, account_uid, day, name)
        return GeneratedObject(Source.SH_FINDINGS, key, table, day, account_uid, [])

    def _object(
        self, source: Source, blocks: list[dict[str, pa.Array]], day: date, sl: Slice
    ) -> GeneratedObject:
        cols = {k: pa.concat_arrays([b[k] for b in blocks]) for k in blocks[0]}
        order = pc.sort_indices(cols["time"])
        cols = {k: v.take(order) for k, v in cols.items()}
        account_uid = self.world.accounts[sl.account].uid
        name = sl.rng.bytes(16).hex() + ".gz.parquet"
        o = self.options
        key = object_key(source, o.source_version, o.region, account_uid, day, name)
        if source is Source.VPC_FLOW:
            table = self.tables.vpc_table(cols, account_uid)
        else:
            table = self.tables.dns_table(cols, account_uid)
        label = cols["label"].to_numpy(zero_copy_only=False)
        times = cols["time"].to_numpy()
        labels = [
            Label(
                **{
                    **sl.labels[int(label[row])].__dict__,
                    "key": key,
                    "row": int(row),
                    "time": int(times[row]),
                    "account_id": account_uid,
                    "region": o.region,
                }
            )
            for row in np.flatnonzero(label >= 0)
        ]
        return GeneratedObject(source, key, table, day, account_uid, labels)
