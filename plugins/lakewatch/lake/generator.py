"""Generate a synthetic Security Lake: VPC Flow and Route 53 objects with labelled anomalies.

The generator streams: it yields one object (one account, one time slice of a day, one source)
at a time, so memory is bounded by the object size, not by the lake. Everything is derived from
the seed with per-slice random streams, so the same seed writes the same bytes.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakewatch.lake import arrow_util as au
from lakewatch.lake.layout import OCSF_VERSION, Source, object_key
from lakewatch.lake.schemas import DNS_ANSWER, OBSERVABLE, schema_for
from lakewatch.lake.world import (
    CLIENT_RANGES,
    HOSTILE_RANGES,
    ONPREM_RANGE,
    SERVICE_BY_NAME,
    SERVICES,
    World,
)

ANOMALY_KINDS = ("lateral_movement", "c2_beacon", "exfiltration", "scan", "rare_domain")
CLIENT_ACTIVITY = {
    "web": 3.0,
    "api": 4.0,
    "auth": 1.0,
    "worker": 3.0,
    "batch": 2.0,
    "db": 0.3,
    "authdb": 0.2,
    "cache": 0.2,
}
DAY_MS = 86_400_000
_NOISE_PORTS = np.array([22, 23, 445, 3389, 1433, 5900, 8080, 2375, 6379, 9200])
_SCAN_PORTS = np.array([22, 80, 443, 3306, 5432, 6379, 8080, 8443, 9000, 9100, 27017])
_VERDICTS = {  # verdict -> activity, activity_id, disposition, disposition_id, action, action_id
    0: ("Traffic", 6, "Allowed", 1, "Allowed", 1),
    1: ("Refuse", 5, "Blocked", 2, "Denied", 2),
    2: ("Unknown", 0, "-", 99, "Unknown", 0),
    3: ("Unknown", 0, "-", 99, "Unknown", 0),
}


@dataclass(frozen=True)
class GenerateOptions:
    days: int = 3
    start: date | None = None
    seed: int = 7
    source_version: str = "2.0"
    rows_per_day: int = 200_000
    accounts: int = 3
    instances_per_account: int = 20
    region: str = "us-east-1"
    anomalies_per_kind: int | None = None  # per day; default: one per account
    dns_share: float = 0.15
    max_rows_per_object: int = 150_000
    # A day's random stream is keyed by its distance from ``origin`` when given (a lake
    # written relative to today, the demo's, is then the same whatever today is), else by
    # its date.
    origin: date | None = None

    def __post_init__(self):
        if self.days < 1:
            raise ValueError("--days must be at least 1")
        if self.rows_per_day < 100:
            raise ValueError("--rows-per-day must be at least 100")
        if self.source_version not in OCSF_VERSION:
            raise ValueError(f"--source-version must be 1.0 or 2.0, not {self.source_version!r}")

    @property
    def first_day(self) -> date:
        return self.start or (datetime.now(UTC).date() - timedelta(days=self.days))

    def stream(self, day: date) -> int:
        """The key of ``day``'s random streams (relative keys start at a million: no ordinal
        of a date this generator writes, nor the fleet's own stream, uses them)."""
        return 1_000_000 + (day - self.origin).days if self.origin else day.toordinal()


@dataclass
class Label:
    """One labelled anomalous row: which object, which row, which pair, which kind."""

    event_id: str
    kind: str
    entity: str
    ip: str
    view: str
    source: str
    key: str = ""
    row: int = -1
    time: int = 0
    account_id: str = ""
    region: str = ""


@dataclass
class GeneratedObject:
    source: Source
    key: str
    table: pa.Table
    day: date
    account_id: str
    labels: list[Label] = field(default_factory=list)


@dataclass
class _Event:
    event_id: str
    kind: str
    account: int
    slice: int


class LakeGenerator:
    """Yields the objects of a synthetic lake, day by day."""

    def __init__(self, options: GenerateOptions):
        self.o = options
        self.world = World(
            options.seed, options.accounts, options.instances_per_account, options.region
        )
        self.ocsf_version = OCSF_VERSION[options.source_version]
        self.v2 = options.source_version == "2.0"
        self._build_pools()
        rows_account = options.rows_per_day / options.accounts
        self.slices = min(24, max(2, math.ceil(rows_account / options.max_rows_per_object)))

    # pools ---------------------------------------------------------------------------------

    def _build_pools(self) -> None:
        w = self.world
        addrs = [i.ip for i in w.instances]
        self.addr_index = {a: k for k, a in enumerate(addrs)}
        for v in w.vendors.values():
            for address in (*v.ipv4, *v.ipv6):
                self.addr_index.setdefault(address, len(addrs))
                if len(addrs) < len(self.addr_index):
                    addrs.append(address)
        self.v6_index = {i.index: self._intern(addrs, i.ipv6) for i in w.instances if i.ipv6}
        self.addresses = pa.array(addrs, pa.string())

        # ENIs: instances first (same index), then NAT gateways and Lambda ENIs ('-' instance)
        enis: list[str] = []
        vpcs: list[str] = []
        insts: list[str] = []
        subnets: list[str] = []
        zones: list[str] = []
        acct_of: list[int] = []

        def add_eni(eni: str, vpc: str, instance: str, subnet: str, zone: str, acct: int) -> None:
            enis.append(eni)
            vpcs.append(vpc)
            insts.append(instance)
            subnets.append(subnet)
            zones.append(zone)
            acct_of.append(acct)

        for i in w.instances:
            add_eni(i.eni, w.accounts[i.account].vpc_uid, i.uid, i.subnet_uid, i.zone, i.account)
        self.nat_eni: dict[int, list[int]] = {}
        self.nat_addr: dict[int, list[int]] = {}
        rng = np.random.default_rng([self.o.seed, 99])
        for a in w.accounts:
            for k, (eni, ip) in enumerate(a.nat_enis):
                self.nat_eni.setdefault(a.index, []).append(len(enis))
                self.nat_addr.setdefault(a.index, []).append(self._intern(addrs, ip))
                subnet_uid = a.subnets["public"][k][0]
                zone = w.instances[a.instances[k]].zone
                add_eni(eni, a.vpc_uid, "-", subnet_uid, zone, a.index)
            for k in range(2):  # Lambda / Fargate ENIs in the app subnets
                self.nat_eni[a.index].append(len(enis))
                ip = str(a.subnets["app"][k][1].network_address + 200 + int(rng.integers(0, 50)))
                self.nat_addr[a.index].append(self._intern(addrs, ip))
                add_eni(
                    f"eni-{rng.integers(0, 2**63):017x}"[:21],
                    a.vpc_uid,
                    "-",
                    a.subnets["app"][k][0],
                    w.instances[a.instances[k]].zone,
                    a.index,
                )
        self.addresses = pa.array(addrs, pa.string())
        self.eni = {
            name: pa.array(col, pa.string())
            for name, col in (
                ("interface_uid", enis),
                ("vpc_uid", vpcs),
                ("instance_uid", insts),
                ("subnet_uid", subnets),
                ("zone", zones),
            )
        }
        self.instance_uids = pa.array([i.uid for i in w.instances], pa.string())
        self.vpc_uids = pa.array([a.vpc_uid for a in w.accounts], pa.string())
        self.client_ranges = _ranges(CLIENT_RANGES)
        self.hostile_ranges = _ranges(HOSTILE_RANGES)
        self.noise_ranges = _ranges((*CLIENT_RANGES, "13.0.0.0/8", "64.0.0.0/8"))
        self.onprem = _ranges((ONPREM_RANGE,))
        # hostname pool: per account internal names, then vendor names
        hosts: list[str] = []
        self.host_internal: dict[tuple[int, str], int] = {}
        for a in w.accounts:
            for svc_name, name in sorted(a.hostnames.items()):
                self.host_internal[(a.index, svc_name)] = len(hosts)
                hosts.append(name)
        self.host_vendor: dict[str, int] = {}
        for name, v in sorted(w.vendors.items()):
            self.host_vendor[name] = len(hosts)
            hosts.append(v.hostname)
        self.hostnames = pa.array(hosts, pa.string())
        # DNS answer pools: one per internal service per account and one per vendor
        pools: list[list[int]] = []
        pools_v6: list[list[int]] = []
        group: dict[tuple[int, str] | str, int] = {}
        for a in w.accounts:
            for svc in SERVICES:
                group[(a.index, svc.name)] = len(pools)
                pools.append(
                    [self.addr_index[x.ip] for x in w.service_instances(a.index, svc.name)]
                )
                pools_v6.append([])
        for name, v in sorted(w.vendors.items()):
            group[name] = len(pools)
            pools.append([self.addr_index[x] for x in v.ipv4])
            pools_v6.append([self.addr_index[x] for x in v.ipv6])
        self.pool_flat, self.pool_start, self.pool_size = _flatten(pools)
        self.pool6_flat, self.pool6_start, self.pool6_size = _flatten(pools_v6)
        # peers: per instance arrays of (address, port, internal instance or -1, vendor name,
        # DNS name, DNS answer pool)
        self.peers = {}
        ip_to_instance = {i.ip: i.index for i in w.instances}
        for i in w.instances:
            p = w.peers[i.index]
            pinst = [ip_to_instance.get(a, -1) for a, _, _ in p]
            keys = [
                (i.account, w.instances[j].service) if j >= 0 else kind
                for j, (_, _, kind) in zip(pinst, p, strict=True)
            ]
            host_ids = [
                self.host_internal[k] if isinstance(k, tuple) else self.host_vendor[k] for k in keys
            ]
            self.peers[i.index] = (
                np.array([self.addr_index[a] for a, _, _ in p], dtype=np.int64),
                np.array([port for _, port, _ in p], dtype=np.int64),
                np.array(pinst, dtype=np.int64),
                np.array([kind for _, _, kind in p], dtype=object),
                np.array(host_ids, dtype=np.int64),
                np.array([group[k] for k in keys], dtype=np.int64),
            )

    @staticmethod
    def _intern(addrs: list[str], ip: str) -> int:
        addrs.append(ip)
        return len(addrs) - 1

    # the lake ------------------------------------------------------------------------------

    def objects(self) -> Iterator[GeneratedObject]:
        for d in range(self.o.days):
            yield from self.day_objects(self.o.first_day + timedelta(days=d))

    def day_objects(self, day: date) -> Iterator[GeneratedObject]:
        day_rng = np.random.default_rng([self.o.seed, self.o.stream(day)])
        usage = self._daily_usage(day_rng)
        events = self._plan_events(day, day_rng)
        rows_account = self.o.rows_per_day / self.o.accounts
        for a in range(self.o.accounts):
            for s in range(self.slices):
                rng = np.random.default_rng([self.o.seed, self.o.stream(day), a, s])
                t0 = _day_ms(day) + s * DAY_MS // self.slices
                t1 = _day_ms(day) + (s + 1) * DAY_MS // self.slices
                slice_events = [e for e in events if e.account == a and e.slice == s]
                n_vpc = int(rows_account * (1 - self.o.dns_share) / self.slices)
                n_dns = int(rows_account * self.o.dns_share / self.slices)
                vpc_blocks, dns_blocks, ev_labels = self._slice(
                    a, t0, t1, n_vpc, n_dns, usage, slice_events, rng
                )
                for source, blocks in ((Source.VPC_FLOW, vpc_blocks), (Source.ROUTE53, dns_blocks)):
                    if not blocks:
                        continue
                    yield self._object(source, blocks, day, a, rng, ev_labels)

    def _object(self, source, blocks, day, a, rng, ev_labels) -> GeneratedObject:
        cols = {k: pa.concat_arrays([b[k] for b in blocks]) for k in blocks[0]}
        order = pc.sort_indices(cols["time"])
        cols = {k: v.take(order) for k, v in cols.items()}
        account_uid = self.world.accounts[a].uid
        name = rng.bytes(16).hex() + ".gz.parquet"
        key = object_key(source, self.o.source_version, self.o.region, account_uid, day, name)
        if source is Source.VPC_FLOW:
            table = self._vpc_table(cols, account_uid)
        else:
            table = self._dns_table(cols, account_uid)
        labels = []
        label = cols["label"].to_numpy(zero_copy_only=False)
        times = cols["time"].to_numpy()
        for row in np.flatnonzero(label >= 0):
            template = ev_labels[int(label[row])]
            labels.append(
                Label(
                    **{
                        **template.__dict__,
                        "key": key,
                        "row": int(row),
                        "time": int(times[row]),
                        "account_id": account_uid,
                        "region": self.o.region,
                    }
                )
            )
        return GeneratedObject(source, key, table, day, account_uid, labels)

    # behaviour -----------------------------------------------------------------------------

    def _daily_usage(self, rng: np.random.Generator) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """For each instance: which of its peers it uses today and how heavily."""
        usage = {}
        for idx, (addr, *_) in self.peers.items():
            n = len(addr)
            chosen = np.flatnonzero(rng.random(n) < 0.5)
            if chosen.size == 0:
                chosen = rng.integers(0, n, 1)
            weights = 1.0 / (1.0 + rng.permutation(chosen.size)) ** 0.8
            usage[idx] = (chosen, weights / weights.sum())
        return usage

    def _plan_events(self, day: date, rng: np.random.Generator) -> list[_Event]:
        per_kind = self.o.anomalies_per_kind
        if per_kind is None:
            per_kind = self.o.accounts
        events = []
        for kind in ANOMALY_KINDS:
            for k in range(per_kind):
                events.append(
                    _Event(
                        f"{day:%Y%m%d}-{kind}-{k}",
                        kind,
                        int(rng.integers(0, self.o.accounts)),
                        int(rng.integers(0, self.slices)),
                    )
                )
        return events

    def _slice(self, a, t0, t1, n_vpc, n_dns, usage, events, rng):
        w = self.world
        acct = w.accounts[a]
        inst = np.array(acct.instances)
        activity = np.array([CLIENT_ACTIVITY[w.instances[i].service] for i in inst])
        activity /= activity.sum()
        vpc, dns, labels = [], [], []

        # 1. service-to-peer connections: egress at the client, ingress at internal servers,
        #    and some response flows back into the client's ENI
        n_conn = max(1, int(n_vpc * 0.71 / 1.285))  # ~1.285 rows per connection
        per_client = rng.multinomial(n_conn, activity)
        clients, peer_addr, peer_port, peer_inst = [], [], [], []
        for c, k in zip(inst, per_client, strict=True):
            if k == 0:
                continue
            chosen, weights = usage[c]
            pick = chosen[rng.choice(chosen.size, size=k, p=weights)]
            addr, port, pinst, *_ = self.peers[c]
            clients.append(np.full(k, c)), peer_addr.append(addr[pick])
            peer_port.append(port[pick]), peer_inst.append(pinst[pick])
        clients = np.concatenate(clients)
        peer_addr, peer_port = np.concatenate(peer_addr), np.concatenate(peer_port)
        peer_inst = np.concatenate(peer_inst)
        times = rng.integers(t0, t1, clients.size)
        eph = rng.integers(32768, 61000, clients.size)
        packets = rng.integers(2, 400, clients.size)
        nbytes = packets * rng.integers(60, 1400, clients.size)
        # A few service-to-service calls are refused by security groups.
        verdict = (rng.random(clients.size) < 0.01).astype(np.int64)
        vpc.append(
            self._vpc_block(
                times,
                s_port=eph,
                s_ip=self._idx(clients),
                s_eni=clients,
                d_port=peer_port,
                d_ip=self._idx(peer_addr),
                d_eni=-1,
                direction=2,
                packets=packets,
                nbytes=nbytes,
                verdict=verdict,
            )
        )
        internal = peer_inst >= 0
        if internal.any():
            m = internal
            vpc.append(
                self._vpc_block(
                    times[m] + 1,
                    s_port=eph[m],
                    s_ip=self._idx(clients[m]),
                    s_eni=-1,
                    d_port=peer_port[m],
                    d_ip=self._idx(peer_addr[m]),
                    d_eni=peer_inst[m],
                    direction=1,
                    packets=packets[m],
                    nbytes=nbytes[m],
                    verdict=verdict[m],
                )
            )
        back = rng.random(clients.size) < 0.25
        if back.any():
            m = back & (verdict == 0)
            vpc.append(
                self._vpc_block(
                    times[m] + 2,
                    s_port=peer_port[m],
                    s_ip=self._idx(peer_addr[m]),
                    s_eni=-1,
                    d_port=eph[m],
                    d_ip=self._idx(clients[m]),
                    d_eni=clients[m],
                    direction=1,
                    packets=packets[m],
                    nbytes=packets[m] * 900,
                    verdict=verdict[m],
                )
            )

        # 2. internet clients of the public tier, accepted on 443
        web = np.array(
            [i for i in inst if SERVICE_BY_NAME[w.instances[i].service].tier == "public"]
        )
        n_pub = int(n_vpc * 0.12)
        if n_pub and web.size:
            dst = web[rng.integers(0, web.size, n_pub)]
            src = au.ipv4_strings(au.random_in_ranges(rng, self.client_ranges, n_pub))
            vpc.append(
                self._vpc_block(
                    rng.integers(t0, t1, n_pub),
                    s_port=rng.integers(1024, 65535, n_pub),
                    s_ip=src,
                    s_eni=-1,
                    d_port=np.full(n_pub, 443),
                    d_ip=self._idx(dst),
                    d_eni=dst,
                    direction=1,
                    packets=rng.integers(4, 60, n_pub),
                    nbytes=rng.integers(400, 90_000, n_pub),
                    verdict=0,
                )
            )
        # 3. internet background noise against the public tier, rejected
        n_noise = int(n_vpc * 0.06)
        if n_noise and web.size:
            dst = web[rng.integers(0, web.size, n_noise)]
            src = au.ipv4_strings(au.random_in_ranges(rng, self.noise_ranges, n_noise))
            vpc.append(
                self._vpc_block(
                    rng.integers(t0, t1, n_noise),
                    s_port=rng.integers(1024, 65535, n_noise),
                    s_ip=src,
                    s_eni=-1,
                    d_port=_NOISE_PORTS[rng.integers(0, 10, n_noise)],
                    d_ip=self._idx(dst),
                    d_eni=dst,
                    direction=1,
                    packets=np.ones(n_noise, np.int64),
                    nbytes=np.full(n_noise, 40),
                    verdict=1,
                    flags=2,
                )
            )
        # 4. NAT gateway, Lambda and Fargate ENIs: instance_uid '-'
        n_nat = int(n_vpc * 0.06)
        if n_nat:
            which = rng.integers(0, len(self.nat_eni[a]), n_nat)
            eni = np.array(self.nat_eni[a])[which]
            src_addr = np.array(self.nat_addr[a])[which]
            vendor_addr = np.concatenate(
                [[self.addr_index[x] for x in v.ipv4] for v in w.vendors.values()]
            )
            dst = vendor_addr[rng.integers(0, vendor_addr.size, n_nat)]
            vpc.append(
                self._vpc_block(
                    rng.integers(t0, t1, n_nat),
                    s_port=rng.integers(1024, 65535, n_nat),
                    s_ip=self._idx(src_addr),
                    s_eni=eni,
                    d_port=np.full(n_nat, 443),
                    d_ip=self._idx(dst),
                    d_eni=-1,
                    direction=2,
                    packets=rng.integers(2, 100, n_nat),
                    nbytes=rng.integers(200, 50_000, n_nat),
                    verdict=0,
                )
            )
        # 5. IPv6 from dual-stack instances to vendors' IPv6 ranges
        dual = np.array([i for i in inst if i in self.v6_index])
        v6_targets = np.array([self.addr_index[x] for v in w.vendors.values() for x in v.ipv6])
        n_v6 = int(n_vpc * 0.04)
        if n_v6 and dual.size and v6_targets.size:
            src = dual[rng.integers(0, dual.size, n_v6)]
            vpc.append(
                self._vpc_block(
                    rng.integers(t0, t1, n_v6),
                    s_port=rng.integers(32768, 61000, n_v6),
                    s_ip=self._idx(np.array([self.v6_index[i] for i in src])),
                    s_eni=src,
                    d_port=np.full(n_v6, 443),
                    d_ip=self._idx(v6_targets[rng.integers(0, v6_targets.size, n_v6)]),
                    d_eni=-1,
                    direction=2,
                    packets=rng.integers(2, 100, n_v6),
                    nbytes=rng.integers(200, 50_000, n_v6),
                    verdict=0,
                    v6=True,
                )
            )
        # 6. NODATA / SKIPDATA records
        n_nodata = max(1, int(n_vpc * 0.01))
        eni = np.array(self.nat_eni[a])[rng.integers(0, len(self.nat_eni[a]), n_nodata)]
        dash = au.const("-", n_nodata)
        vpc.append(
            self._vpc_block(
                rng.integers(t0, t1, n_nodata),
                s_port=-1,
                s_ip=dash,
                s_eni=eni,
                d_port=-1,
                d_ip=dash,
                d_eni=-1,
                direction=99,
                packets=-1,
                nbytes=-1,
                verdict=2 + (rng.random(n_nodata) < 0.3).astype(np.int64),
            )
        )

        # DNS: instances resolving their peers, and on-prem clients through the resolver endpoint
        if n_dns:
            n_onprem = max(1, n_dns // 10)
            dns.append(self._dns_instances(a, inst, activity, usage, t0, t1, n_dns - n_onprem, rng))
            dns.append(self._dns_onprem(a, t0, t1, n_onprem, rng))

        for ev in events:
            self._inject(ev, a, t0, t1, rng, vpc, dns, labels)
        return vpc, dns, labels

    # DNS -----------------------------------------------------------------------------------

    def _dns_instances(self, a, inst, activity, usage, t0, t1, n, rng):
        per_client = rng.multinomial(n, activity)
        clients = np.repeat(inst, per_client)
        host_idx = np.empty(n, dtype=np.int64)
        primary = np.empty(n, dtype=np.int64)
        pool = np.empty(n, dtype=np.int64)
        at = 0
        for c, k in zip(inst, per_client, strict=True):
            if not k:
                continue
            chosen, weights = usage[int(c)]
            pick = chosen[rng.choice(chosen.size, size=k, p=weights)]
            addr, _, _, _, hosts, groups = self.peers[int(c)]
            sl = slice(at, at + k)
            host_idx[sl], primary[sl], pool[sl] = hosts[pick], addr[pick], groups[pick]
            at += k
        # AAAA for dual-stack clients asking vendors that have IPv6
        dual = np.isin(clients, list(self.v6_index))
        qtype = (dual & (self.pool6_size[pool] > 0) & (rng.random(n) < 0.3)).astype(np.int64)
        # answers: the address the client uses plus up to two more from the same pool
        extra = rng.integers(0, 3, n)
        size = np.where(qtype == 1, self.pool6_size[pool], self.pool_size[pool])
        start = np.where(qtype == 1, self.pool6_start[pool], self.pool_start[pool])
        cand = start[:, None] + (rng.random((n, 3)) * np.maximum(size, 1)[:, None]).astype(np.int64)
        cand_v4 = self.pool_flat[np.minimum(cand, self.pool_flat.size - 1)]
        cand_v6 = (
            self.pool6_flat[np.minimum(cand, max(self.pool6_flat.size - 1, 0))]
            if self.pool6_flat.size
            else cand_v4
        )
        answers = np.where(qtype[:, None] == 1, cand_v6, cand_v4)
        answers[:, 0] = np.where(qtype == 1, answers[:, 0], primary)
        keep = np.arange(3)[None, :] <= extra[:, None]
        keep[:, 1] &= answers[:, 1] != answers[:, 0]
        keep[:, 2] &= (answers[:, 2] != answers[:, 0]) & (answers[:, 2] != answers[:, 1])
        rcode = np.where(rng.random(n) < 0.03, 3, 0)
        keep &= (rcode == 0)[:, None]
        counts = keep.sum(axis=1)
        flat = answers[keep]
        hosts = au.take(self.hostnames, host_idx)
        nx = rcode == 3
        if nx.any():  # a typo of the real name: resolves to nothing
            hosts = pc.if_else(
                pa.array(nx), pc.binary_join_element_wise(au.const("nx-", n), hosts, ""), hosts
            )
        return self._dns_block(
            rng.integers(t0, t1, n),
            s_vpc=au.take(self.vpc_uids, np.full(n, a)),
            s_ip=self._idx(clients),
            s_inst=au.take(self.instance_uids, clients),
            resolver=False,
            a=a,
            hostnames=hosts,
            qtype=qtype,
            counts=counts,
            rdata=au.take(self.addresses, flat),
            rcode=rcode,
            rng=rng,
        )

    def _dns_onprem(self, a, t0, t1, n, rng):
        w = self.world
        svc = rng.choice([s.name for s in SERVICES if s.tier != "data"], n)
        host_idx = np.array([self.host_internal[(a, s)] for s in svc])
        ans = np.array([self.addr_index[w.service_instances(a, s)[0].ip] for s in svc])
        return self._dns_block(
            rng.integers(t0, t1, n),
            s_vpc=au.take(self.vpc_uids, np.full(n, a)),
            s_ip=au.ipv4_strings(au.random_in_ranges(rng, self.onprem, n)),
            s_inst=au.const(None, n),
            resolver=True,
            a=a,
            hostnames=au.take(self.hostnames, host_idx),
            qtype=np.zeros(n, np.int64),
            counts=np.ones(n, np.int64),
            rdata=au.take(self.addresses, ans),
            rcode=np.zeros(n, np.int64),
            rng=rng,
        )

    # anomalies -----------------------------------------------------------------------------

    def _inject(self, ev: _Event, a, t0, t1, rng, vpc, dns, labels) -> None:
        w = self.world
        acct = w.accounts[a]
        inst = [w.instances[i] for i in acct.instances]
        start = int(rng.integers(t0, max(t0 + 1, t1 - 3_600_000)))

        def label(entity, ip, view, source="VPC_FLOW"):
            labels.append(Label(ev.event_id, ev.kind, entity, ip, view, source))
            return len(labels) - 1

        if ev.kind == "lateral_movement":
            x = inst[int(rng.integers(0, len(inst)))]
            svc = SERVICE_BY_NAME[x.service]
            target_svc = _lateral_target(svc, rng)
            victims = w.service_instances(a, target_svc)
            for v in rng.choice(len(victims), min(2, len(victims)), replace=False):
                t = victims[int(v)]
                n = int(rng.integers(3, 8))
                times = start + np.sort(rng.integers(0, 3_600_000, n))
                ports = np.full(n, SERVICE_BY_NAME[target_svc].port)
                eph = rng.integers(32768, 61000, n)
                le = label(x.uid, t.ip, "egress_peer")
                li = label(t.uid, x.ip, "ingress_peer")
                pk = rng.integers(5, 200, n)
                vpc.append(
                    self._vpc_block(
                        times,
                        s_port=eph,
                        s_ip=self._idx(np.full(n, x.index)),
                        s_eni=np.full(n, x.index),
                        d_port=ports,
                        d_ip=self._idx(np.full(n, t.index)),
                        d_eni=-1,
                        direction=2,
                        packets=pk,
                        nbytes=pk * 700,
                        verdict=0,
                        label=le,
                    )
                )
                vpc.append(
                    self._vpc_block(
                        times + 1,
                        s_port=eph,
                        s_ip=self._idx(np.full(n, x.index)),
                        s_eni=-1,
                        d_port=ports,
                        d_ip=self._idx(np.full(n, t.index)),
                        d_eni=np.full(n, t.index),
                        direction=1,
                        packets=pk,
                        nbytes=pk * 700,
                        verdict=0,
                        label=li,
                    )
                )
        elif ev.kind in ("c2_beacon", "exfiltration"):
            x = inst[int(rng.integers(0, len(inst)))]
            c = au.random_in_ranges(rng, self.hostile_ranges, 1)[0]
            c_str = str(ipaddress.IPv4Address(int(c)))
            if ev.kind == "c2_beacon":
                n = int(rng.integers(6, 13))
                times = start + np.arange(n) * 300_000 + rng.integers(0, 5_000, n)
                pk = rng.integers(3, 8, n)
                nbytes, port = pk * 120, int(rng.choice([443, 8443, 4444]))
            else:
                n = int(rng.integers(2, 5))
                times = start + np.sort(rng.integers(0, 3_600_000, n))
                pk = rng.integers(40_000, 600_000, n)
                nbytes, port = pk * 1400, 443
            le = label(x.uid, c_str, "egress_peer")
            vpc.append(
                self._vpc_block(
                    times,
                    s_port=rng.integers(32768, 61000, n),
                    s_ip=self._idx(np.full(n, x.index)),
                    s_eni=np.full(n, x.index),
                    d_port=np.full(n, port),
                    d_ip=au.const(c_str, n),
                    d_eni=-1,
                    direction=2,
                    packets=pk,
                    nbytes=nbytes,
                    verdict=0,
                    label=le,
                )
            )
            li = label(x.uid, c_str, "ingress_peer")
            vpc.append(
                self._vpc_block(
                    times + 3,
                    s_port=np.full(n, port),
                    s_ip=au.const(c_str, n),
                    s_eni=-1,
                    d_port=rng.integers(32768, 61000, n),
                    d_ip=self._idx(np.full(n, x.index)),
                    d_eni=np.full(n, x.index),
                    direction=1,
                    packets=np.maximum(pk // 10, 1),
                    nbytes=pk * 60,
                    verdict=0,
                    label=li,
                )
            )
        elif ev.kind == "scan":
            z = f"10.{16 + a}.{int(rng.integers(200, 250))}.{int(rng.integers(2, 250))}"
            k = max(3, int(len(inst) * rng.uniform(0.5, 1.0)))
            for j in rng.choice(len(inst), k, replace=False):
                t = inst[int(j)]
                n = int(rng.integers(1, 4))
                lid = label(t.uid, z, "ingress_peer")
                verdict = (rng.random(n) < 0.85).astype(np.int64)
                vpc.append(
                    self._vpc_block(
                        start + rng.integers(0, 600_000, n),
                        s_port=rng.integers(40000, 65000, n),
                        s_ip=au.const(z, n),
                        s_eni=-1,
                        d_port=_SCAN_PORTS[rng.integers(0, _SCAN_PORTS.size, n)],
                        d_ip=self._idx(np.full(n, t.index)),
                        d_eni=np.full(n, t.index),
                        direction=1,
                        packets=np.ones(n, np.int64),
                        nbytes=np.full(n, 44),
                        verdict=verdict,
                        flags=2,
                        label=lid,
                    )
                )
        elif ev.kind == "rare_domain":
            x = inst[int(rng.integers(0, len(inst)))]
            r = str(ipaddress.IPv4Address(int(au.random_in_ranges(rng, self.hostile_ranges, 1)[0])))
            letters = "abcdefghijklmnopqrstuvwxyz0123456789"
            domain = "".join(rng.choice(list(letters), int(rng.integers(8, 14))))
            host = f"{domain}.{rng.choice(['top', 'xyz', 'click', 'info'])}."
            ld = label(x.uid, r, "dns_answer", "ROUTE53")
            dns.append(
                self._dns_block(
                    np.array([start]),
                    s_vpc=au.take(self.vpc_uids, np.array([a])),
                    s_ip=self._idx(np.array([x.index])),
                    s_inst=au.const(x.uid, 1),
                    resolver=False,
                    a=a,
                    hostnames=au.const(host, 1),
                    qtype=np.zeros(1, np.int64),
                    counts=np.ones(1, np.int64),
                    rdata=au.const(r, 1),
                    rcode=np.zeros(1, np.int64),
                    rng=rng,
                    label=ld,
                )
            )
            n = int(rng.integers(2, 5))
            le = label(x.uid, r, "egress_peer")
            pk = rng.integers(5, 300, n)
            vpc.append(
                self._vpc_block(
                    start + 500 + np.sort(rng.integers(0, 1_800_000, n)),
                    s_port=rng.integers(32768, 61000, n),
                    s_ip=self._idx(np.full(n, x.index)),
                    s_eni=np.full(n, x.index),
                    d_port=np.full(n, 443),
                    d_ip=au.const(r, n),
                    d_eni=-1,
                    direction=2,
                    packets=pk,
                    nbytes=pk * 800,
                    verdict=0,
                    label=le,
                )
            )

    # blocks --------------------------------------------------------------------------------

    def _idx(self, index: np.ndarray) -> pa.Array:
        return au.take(self.addresses, index)

    def _vpc_block(
        self,
        times,
        *,
        s_port,
        s_ip,
        s_eni,
        d_port,
        d_ip,
        d_eni,
        direction,
        packets,
        nbytes,
        verdict,
        flags=None,
        v6=False,
        label=-1,
    ) -> dict[str, pa.Array]:
        n = len(times)

        def arr(x):
            return np.full(n, x, dtype=np.int64) if np.isscalar(x) else np.asarray(x, np.int64)

        verdict = arr(verdict)
        if flags is None:
            flags = np.where(verdict >= 2, -1, 19)
        proto = np.where(verdict >= 2, -1, 6)
        return {
            "time": pa.array(arr(times), pa.int64()),
            "s_port": au.ints(arr(s_port), pa.int32()),
            "s_ip": s_ip,
            "s_eni": pa.array(arr(s_eni)),
            "d_port": au.ints(arr(d_port), pa.int32()),
            "d_ip": d_ip,
            "d_eni": pa.array(arr(d_eni)),
            "direction": pa.array(arr(direction)),
            "proto": au.ints(proto, pa.int32()),
            "flags": au.ints(arr(flags), pa.int32()),
            "ipver": pa.array(np.where(verdict >= 2, 2, 1 if v6 else 0)),
            "packets": au.ints(arr(packets)),
            "bytes": au.ints(arr(nbytes)),
            "duration": pa.array(np.full(n, 1_000) * (1 + (arr(times) % 59))),
            "verdict": pa.array(verdict),
            "label": pa.array(arr(label)),
        }

    def _dns_block(
        self,
        times,
        *,
        s_vpc,
        s_ip,
        s_inst,
        resolver,
        a,
        hostnames,
        qtype,
        counts,
        rdata,
        rcode,
        rng,
        label=-1,
    ) -> dict[str, pa.Array]:
        n = len(times)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        rtype = pc.if_else(pc.match_substring(rdata, ":"), "AAAA", "A") if len(rdata) else rdata
        answers = au.list_array(
            offsets,
            pa.StructArray.from_arrays(
                [rtype, rdata, au.const("IN", len(rdata))], fields=list(DNS_ANSWER)
            ),
            pa.field("array", DNS_ANSWER, nullable=False),
        )
        rslvr, rni = self.world.accounts[a].resolver_endpoint
        return {
            "time": pa.array(np.asarray(times, np.int64)),
            "s_vpc": s_vpc,
            "s_ip": s_ip,
            "s_port": pa.array(rng.integers(1024, 65535, n).astype(np.int32)),
            "s_inst": s_inst,
            "d_inst": au.const(rslvr if resolver else None, n),
            "d_iface": au.const(rni if resolver else None, n),
            "hostname": hostnames,
            "qtype": pa.array(np.asarray(qtype, np.int64)),
            "answers": answers,
            "rcode": pa.array(np.asarray(rcode, np.int64)),
            "first_rdata": au.take(rdata, np.where(np.asarray(counts) > 0, offsets[:-1], -1)),
            "label": pa.array(np.full(n, label, dtype=np.int64)),
        }

    # tables --------------------------------------------------------------------------------

    def _common(self, n: int, source: Source, account_uid: str) -> dict[str, pa.Array]:
        schema = schema_for(source, self.o.source_version)
        product = (
            {
                "version": "5",
                "name": "Amazon VPC",
                "feature": {"name": "Flowlogs"},
                "vendor_name": "AWS",
            }
            if source is Source.VPC_FLOW
            else {
                "version": "1.100000",
                "name": "Route 53",
                "feature": {"name": "Resolver Query Logs"},
                "vendor_name": "AWS",
            }
        )
        profiles = ["cloud", "security_control", *(["datetime"] if self.v2 else [])]
        meta = {"product": product, "profiles": profiles, "version": self.ocsf_version}
        return {
            "metadata": _repeat(meta, schema.field("metadata").type, n),
            "severity_id": au.const(1, n, pa.int32()),
            "severity": au.const("Informational", n),
            "class_name": au.const(
                "Network Activity" if source is Source.VPC_FLOW else "DNS Activity", n
            ),
            "class_uid": au.const(source.class_uid, n, pa.int32()),
            "category_name": au.const("Network Activity", n),
            "category_uid": au.const(4, n, pa.int32()),
        }

    def _cloud(self, n: int, account_uid: str, zone: pa.Array | None, source: Source):
        typ = schema_for(source, self.o.source_version).field("cloud").type
        acct = (
            pa.StructArray.from_arrays([au.const(account_uid, n)], names=["uid"])
            if self.v2
            else au.const(account_uid, n)
        )
        arrays = [acct, au.const(self.o.region, n)]
        if zone is not None:
            arrays.append(zone)
        arrays.append(au.const("AWS", n))
        return pa.StructArray.from_arrays(arrays, fields=list(typ))

    def _vpc_table(self, c: dict[str, pa.Array], account_uid: str) -> pa.Table:
        n = len(c["time"])
        schema = schema_for(Source.VPC_FLOW, self.o.source_version)
        ep_type = schema.field("src_endpoint").type
        s_eni, d_eni = c["s_eni"].to_numpy(), c["d_eni"].to_numpy()

        def endpoint(port, ip, eni):
            return pa.StructArray.from_arrays(
                [
                    port,
                    au.const("-", n),
                    ip,
                    pa.nulls(n, ep_type.field("intermediate_ips").type),
                    *(
                        au.take(self.eni[k], eni)
                        for k in ("interface_uid", "vpc_uid", "instance_uid", "subnet_uid")
                    ),
                ],
                fields=list(ep_type),
            )

        verdict = c["verdict"].to_numpy()
        nodata = verdict >= 2
        direction = c["direction"].to_numpy()
        conn_type = schema.field("connection_info").type
        connection = pa.StructArray.from_arrays(
            [
                c["proto"],
                c["flags"],
                au.take(pa.array(["IPv4", "IPv6", "-"]), c["ipver"].to_numpy()),
                au.const(99, n, pa.int32()),
                au.take(pa.array(["-"]), np.where(nodata, -1, 0)),
                pa.array(direction.astype(np.int32)),
                au.take(
                    pa.array(["-", "Inbound", "Outbound"]), np.where(direction == 99, 0, direction)
                ),
            ],
            fields=list(conn_type),
        )
        traffic = pa.StructArray.from_arrays(
            [c["packets"], c["bytes"]], fields=list(schema.field("traffic").type)
        )
        zone_eni = np.where(s_eni >= 0, s_eni, d_eni)
        zone = au.take(self.eni["zone"], zone_eni)
        v = np.array([_VERDICTS[k] for k in range(4)], dtype=object)
        pick = lambda col: pa.array(v[:, col].tolist()).take(pa.array(verdict))  # noqa: E731
        time = c["time"]
        end = pc.add(time, c["duration"])
        cols = {
            **self._common(n, Source.VPC_FLOW, account_uid),
            "cloud": self._cloud(n, account_uid, zone, Source.VPC_FLOW),
            "src_endpoint": endpoint(c["s_port"], c["s_ip"], s_eni),
            "dst_endpoint": endpoint(c["d_port"], c["d_ip"], d_eni),
            "connection_info": connection,
            "traffic": traffic,
            "time": time,
            "start_time": time,
            "end_time": end,
            "status_code": au.take(
                pa.array(["OK", "NODATA", "SKIPDATA"]),
                np.select([verdict == 2, verdict == 3], [1, 2], 0),
            ),
            "activity_name": pick(0).cast(pa.string()),
            "activity_id": pick(1).cast(pa.int32()),
            "disposition": pick(2).cast(pa.string()),
            "disposition_id": pick(3).cast(pa.int32()),
            "type_uid": pc.add(pa.array(np.full(n, 400100, np.int32)), pick(1).cast(pa.int32())),
            "type_name": pc.binary_join_element_wise(
                au.const("Network Activity: ", n), pick(0).cast(pa.string()), ""
            ),
            "unmapped": _repeat(
                [("sublocation_id", "-"), ("sublocation_type", "-")],
                schema.field("unmapped").type,
                n,
            ),
        }
        if self.v2:
            cols |= {
                "time_dt": time.cast(pa.timestamp("ms", tz="UTC")),
                "start_time_dt": time.cast(pa.timestamp("ms", tz="UTC")),
                "end_time_dt": end.cast(pa.timestamp("ms", tz="UTC")),
                "action": pick(4).cast(pa.string()),
                "action_id": pick(5).cast(pa.int32()),
                "observables": _observables(
                    n,
                    [
                        ("src_endpoint.ip", "IP Address", 2, c["s_ip"]),
                        ("dst_endpoint.ip", "IP Address", 2, c["d_ip"]),
                        (
                            "src_endpoint.instance_uid",
                            "Resource UID",
                            10,
                            au.take(self.eni["instance_uid"], s_eni),
                        ),
                        (
                            "dst_endpoint.instance_uid",
                            "Resource UID",
                            10,
                            au.take(self.eni["instance_uid"], d_eni),
                        ),
                    ],
                ),
                **self._sl2(n, account_uid),
            }
        return pa.Table.from_arrays([cols[f.name] for f in schema], schema=schema)

    def _dns_table(self, c: dict[str, pa.Array], account_uid: str) -> pa.Table:
        n = len(c["time"])
        schema = schema_for(Source.ROUTE53, self.o.source_version)
        rcode = c["rcode"].to_numpy()
        nx = rcode == 3
        time = c["time"]
        cols = {
            **self._common(n, Source.ROUTE53, account_uid),
            "cloud": self._cloud(n, account_uid, None, Source.ROUTE53),
            "src_endpoint": pa.StructArray.from_arrays(
                [c["s_vpc"], c["s_ip"], c["s_port"], c["s_inst"]],
                fields=list(schema.field("src_endpoint").type),
            ),
            "time": time,
            "query": pa.StructArray.from_arrays(
                [
                    c["hostname"],
                    au.take(pa.array(["A", "AAAA"]), c["qtype"].to_numpy()),
                    au.const("IN", n),
                ],
                fields=list(schema.field("query").type),
            ),
            "answers": c["answers"],
            "connection_info": pa.StructArray.from_arrays(
                [au.const("UDP", n), au.const("Unknown", n), au.const(0, n, pa.int32())],
                fields=list(schema.field("connection_info").type),
            ),
            "dst_endpoint": pa.StructArray.from_arrays(
                [c["d_inst"], c["d_iface"]], fields=list(schema.field("dst_endpoint").type)
            ),
            "rcode_id": pa.array(rcode.astype(np.int32)),
            "rcode": au.take(pa.array(["NoError", "NXDomain"]), nx.astype(np.int64)),
            "activity_id": au.const(2, n, pa.int32()),
            "activity_name": au.const("Response", n),
            "type_name": au.const("DNS Activity: Response", n),
            "type_uid": au.const(400302, n, pa.int32()),
            "disposition": au.const("No Action", n),
            "disposition_id": au.const(16, n, pa.int32()),
            "unmapped": pa.nulls(n, schema.field("unmapped").type),
        }
        if self.v2:
            cols |= {
                "time_dt": time.cast(pa.timestamp("ms", tz="UTC")),
                "action": au.const("Allowed", n),
                "action_id": au.const(1, n, pa.int32()),
                "observables": _observables(
                    n,
                    [
                        ("src_endpoint.ip", "IP Address", 2, c["s_ip"]),
                        ("src_endpoint.instance_uid", "Resource UID", 10, c["s_inst"]),
                        ("query.hostname", "Hostname", 1, c["hostname"]),
                        ("answers[].rdata", "IP Address", 2, c["first_rdata"]),
                    ],
                ),
                **self._sl2(n, account_uid),
            }
        return pa.Table.from_arrays([cols[f.name] for f in schema], schema=schema)

    def _sl2(self, n: int, account_uid: str) -> dict[str, pa.Array]:
        return {
            "accountid": au.const(account_uid, n),
            "region": au.const(self.o.region, n),
            "asl_version": au.const(self.o.source_version, n),
        }


def _observables(n: int, slots: list[tuple[str, str, int, pa.Array]]) -> pa.Array:
    """OCSF observables: one entry per slot whose value is a real address or id."""
    values = [pa.array(v) if not isinstance(v, pa.Array) else v for _, _, _, v in slots]
    valid = np.stack(
        [
            (pc.fill_null(pc.and_(pc.is_valid(v), pc.not_equal(v, "-")), False)).to_numpy(
                zero_copy_only=False
            )
            for v in values
        ],
        axis=1,
    )  # n x slots
    k = len(slots)
    flat_valid = pa.array(valid.reshape(-1))

    def interleaved(arrays: list[pa.Array]) -> pa.Array:
        stacked = pa.concat_arrays(arrays)  # slot-major: j*n + i
        order = (np.arange(k)[None, :] * n + np.arange(n)[:, None]).reshape(-1)
        return stacked.take(pa.array(order))

    names = interleaved([au.const(s[0], n) for s in slots])
    types = interleaved([au.const(s[1], n) for s in slots])
    type_ids = interleaved([au.const(s[2], n, pa.int32()) for s in slots])
    vals = interleaved([v.cast(pa.string()) for v in values])
    items = pa.StructArray.from_arrays([names, types, type_ids, vals], fields=list(OBSERVABLE))
    items = items.filter(flat_valid)
    offsets = np.concatenate([[0], np.cumsum(valid.sum(axis=1))])
    return au.list_array(offsets, items, pa.field("array", OBSERVABLE, nullable=False))


def _lateral_target(svc, rng: np.random.Generator) -> str:
    """A service the attacker's service never talks to, preferably in a subnet tier it does
    reach: the realistic hard case, invisible to a per-subnet frequency count."""
    unrelated = [
        s for s in SERVICES if s.name not in (*svc.deps, svc.name) and svc.name not in s.deps
    ]
    tiers = {SERVICE_BY_NAME[d].tier for d in svc.deps}
    near = [s for s in unrelated if s.tier in tiers] or unrelated
    return near[int(rng.integers(0, len(near)))].name


def _flatten(pools: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sizes = np.array([len(p) for p in pools], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    flat = np.array([x for p in pools for x in p], dtype=np.int64)
    return flat, starts, sizes


def _repeat(value, typ: pa.DataType, n: int) -> pa.Array:
    return pa.array([value], type=typ).take(pa.array(np.zeros(n, dtype=np.int64)))


def _ranges(cidrs) -> list[tuple[int, int]]:
    nets = [ipaddress.ip_network(c) for c in cidrs]
    return [(int(net.network_address), net.num_addresses) for net in nets]


def _day_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
