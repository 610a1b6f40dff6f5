"""The synthetic lake, object by object: one account, one time slice of a day, one source.

It streams, so memory is bounded by an object, not by the lake. Everything comes from the
seed through per-day and per-slice random streams, so the same seed writes the same bytes.

With ``GenerateOptions.cloudtrail``, each account's day also has CloudTrail management objects
(``cloudtrail.py``, written as OCSF by ``cloudtrail_ocsf.py``), with their own anomalies
(``SIGNIN_KINDS``) from streams of their own: the network objects are the same with or without.

With ``GenerateOptions.churn``, instances are replaced by new ones day by day (``churn.py``):
``instance_uid(instance, day)`` is an instance's id on a day and ``new_instances(day)`` the
ids in use that day that replaced an original, with the day each was first used, so an
evaluation can tell new instances' pairs from old ones'.

With ``GenerateOptions.rcf_anomalies``, each day also has the kinds shaped for Random Cut
Forest (``rcf_anomalies.py``, ``RCF_KINDS``), planned and written from streams of their own
after a slice's other rows: every other row, label and object name is the same without them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakewatch.lake.layout import Source, object_key
from lakewatch.lake.synthetic import cloudtrail as ct
from lakewatch.lake.synthetic.anomalies import inject
from lakewatch.lake.synthetic.churn import Churn, DayIds
from lakewatch.lake.synthetic.cloudtrail_ocsf import ct_table
from lakewatch.lake.synthetic.identities import Identities
from lakewatch.lake.synthetic.ocsf import OcsfTables
from lakewatch.lake.synthetic.options import (
    ANOMALY_KINDS,
    DAY_MS,
    RCF_KINDS,
    SIGNIN_KINDS,
    Event,
    GeneratedObject,
    GenerateOptions,
    Label,
    day_ms,
)
from lakewatch.lake.synthetic.pools import Pools
from lakewatch.lake.synthetic.rcf_anomalies import RCF_KEY, inject_rcf
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
        self.churn = Churn(options, self.world)
        rows_account = options.rows_per_day / options.accounts
        self.slices = min(24, max(2, math.ceil(rows_account / options.max_rows_per_object)))
        self.identities: Identities | None = None
        if options.cloudtrail:
            people = max(3, min(12, options.instances_per_account // 2))
            self.identities = Identities(self.world, options.seed, people)

    def objects(self) -> Iterator[GeneratedObject]:
        for d in range(self.options.days):
            yield from self.day_objects(self.options.first_day + timedelta(days=d))

    def instance_uid(self, instance: int, day: date) -> str:
        """The id of the world's instance ``instance`` (its index) on ``day``."""
        return self.churn.ids(day).uid(instance)

    def new_instances(self, day: date) -> dict[str, date]:
        """The instance ids in use on ``day`` that replaced an instance, each with the day it
        was first used (``day`` itself for the day's replacements); every other instance has
        its original id, in use since before the look-back (``churn.LOOK_BACK`` days). Empty
        without churn."""
        ids = self.churn.ids(day)
        return {uid: first for uid, first in zip(ids.uids, ids.since, strict=True) if first}

    def day_objects(self, day: date) -> Iterator[GeneratedObject]:
        o = self.options
        day_rng = np.random.default_rng([o.seed, o.stream(day)])
        usage = daily_usage(self.pools, day_rng)
        events = self._plan_events(day, day_rng)
        rcf_events = self._plan_rcf_events(day) if o.rcf_anomalies else []
        rows_account = o.rows_per_day / o.accounts
        ids = self.churn.ids(day) if o.churn else None
        tables = self._tables(ids)
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
                    ids=ids,
                )
                self._write(
                    sl,
                    n_vpc=int(rows_account * (1 - o.dns_share) / self.slices),
                    n_dns=int(rows_account * o.dns_share / self.slices),
                    usage=usage,
                    events=[e for e in events if e.account == account and e.slice == s],
                )
                here = [e for e in rcf_events if e.account == account and e.slice == s]
                if here:
                    rcf_rng = np.random.default_rng([o.seed, o.stream(day), RCF_KEY, account, s])
                    for event in here:
                        inject_rcf(sl, event, usage, rcf_rng)
                for source, blocks in ((Source.VPC_FLOW, sl.vpc), (Source.ROUTE53, sl.dns)):
                    if blocks:
                        obj = self._object(source, blocks, day, sl, tables)
                        # Security Hub reports on the IP Insights kinds only, as before
                        labels.extend(x for x in obj.labels if x.kind not in RCF_KINDS)
                        yield obj
            if self.identities is not None:
                yield from self._cloudtrail_objects(day, account, ids)
            if o.security_hub and o.source_version == "2.0":
                yield self._security_hub_object(day, account, labels, ids)

    def _cloudtrail_objects(
        self, day: date, account: int, ids: DayIds | None
    ) -> Iterator[GeneratedObject]:
        """The account's CloudTrail objects of the day, one per slice (``cloudtrail.py``)."""
        o, identities = self.options, self.identities
        assert identities is not None
        start = day_ms(day)
        events = [e for e in self._plan_signin_events(day) if e.account == account]
        plan = ct.plan_day(
            identities,
            account,
            o.is_weekday(day),
            start,
            np.random.default_rng([o.seed, o.stream(day), ct.KEY, account]),
        )
        budget = int(o.rows_per_day * o.cloudtrail_share / o.accounts / self.slices)
        account_uid = self.world.accounts[account].uid
        for s in range(self.slices):
            t0, t1 = start + s * DAY_MS // self.slices, start + (s + 1) * DAY_MS // self.slices
            sl = ct.CtSlice(
                identities,
                account,
                t0,
                t1,
                start + DAY_MS,
                np.random.default_rng([o.seed, o.stream(day), ct.KEY, account, 1 + s]),
                ids,
            )
            if s == 0 and ids is not None:
                ct.autoscaling(sl, self._replaced(day, account, ids), start + 60_000)
            ct.write_slice(
                sl,
                [p for p in plan if t0 <= p.start < t1],
                budget,
                [e for e in events if e.slice == s],
                config=max(1, 48 // self.slices),
            )
            if not sl.records:
                continue
            name = sl.rng.bytes(16).hex() + ".gz.parquet"
            key = object_key(
                Source.CLOUD_TRAIL_MGMT, o.source_version, o.region, account_uid, day, name
            )
            records = sl.finish()
            table = ct_table(records, o.source_version, o.region, account_uid)
            labels = [
                Label(
                    **{
                        **sl.labels[r.label].__dict__,
                        "key": key,
                        "row": row,
                        "time": r.time,
                        "account_id": account_uid,
                        "region": o.region,
                    }
                )
                for row, r in enumerate(records)
                if r.label >= 0
            ]
            yield GeneratedObject(Source.CLOUD_TRAIL_MGMT, key, table, day, account_uid, labels)

    def _replaced(self, day: date, account: int, ids: DayIds) -> list:
        """The account's instances replaced on ``day``: (instance, old id, new id)."""
        before = self.churn.ids(day - timedelta(days=1))
        today = self.churn.replaced(day)
        return [
            (self.world.instances[j], before.uid(j), ids.uid(j))
            for j in self.world.accounts[account].instances
            if today[j]
        ]

    def _plan_signin_events(self, day: date) -> list[Event]:
        """The day's sign-in anomalies, from CloudTrail's own stream."""
        return self._plan_own_events(day, SIGNIN_KINDS, ct.KEY)

    def _plan_rcf_events(self, day: date) -> list[Event]:
        """The day's RCF anomalies, from a stream of their own."""
        return self._plan_own_events(day, RCF_KINDS, RCF_KEY)

    def _plan_own_events(self, day: date, kinds: tuple[str, ...], key: int) -> list[Event]:
        """``kinds``' events of the day (as many per kind as the others), each in a random
        account and slice, drawn from the stream ``key`` names, so that turning them on or off
        leaves every other kind's draws as they were."""
        o = self.options
        per_kind = o.accounts if o.anomalies_per_kind is None else o.anomalies_per_kind
        rng = np.random.default_rng([o.seed, o.stream(day), key])
        return [
            Event(
                f"{day:%Y%m%d}-{kind}-{k}",
                kind,
                int(rng.integers(0, o.accounts)),
                int(rng.integers(0, self.slices)),
            )
            for kind in kinds
            for k in range(per_kind)
        ]

    def _tables(self, ids: DayIds | None) -> OcsfTables:
        """The tables' builder for a day: the day's ENI and instance ids where they churn."""
        if ids is None:
            return self.tables
        o = self.options
        return OcsfTables(o.source_version, o.region, ids.eni_columns(self.pools.eni))

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

    def _security_hub_object(
        self, day: date, account: int, labels: list[Label], ids: DayIds | None
    ) -> GeneratedObject:
        """The account's Security Hub findings of the day (``security_hub.py``)."""
        o = self.options
        rng = np.random.default_rng([o.seed, o.stream(day), account, 1_000_003])
        indices = self.world.accounts[account].instances
        uids = [ids.uid(j) if ids else self.world.instances[j].uid for j in indices]
        account_uid = self.world.accounts[account].uid
        found = findings_for_day(labels, uids, day_ms(day), rng)
        table = sh_table(found, account_uid, o.region)
        name = rng.bytes(16).hex() + ".gz.parquet"
        key = object_key(Source.SH_FINDINGS, o.source_version, o.region, account_uid, day, name)
        return GeneratedObject(Source.SH_FINDINGS, key, table, day, account_uid, [])

    def _object(
        self,
        source: Source,
        blocks: list[dict[str, pa.Array]],
        day: date,
        sl: Slice,
        tables: OcsfTables,
    ) -> GeneratedObject:
        cols = {k: pa.concat_arrays([b[k] for b in blocks]) for k in blocks[0]}
        order = pc.sort_indices(cols["time"])
        cols = {k: v.take(order) for k, v in cols.items()}
        account_uid = self.world.accounts[sl.account].uid
        name = sl.rng.bytes(16).hex() + ".gz.parquet"
        o = self.options
        key = object_key(source, o.source_version, o.region, account_uid, day, name)
        if source is Source.VPC_FLOW:
            table = tables.vpc_table(cols, account_uid)
        else:
            table = tables.dns_table(cols, account_uid)
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
