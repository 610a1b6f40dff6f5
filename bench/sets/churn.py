"""A fleet of Auto Scaling groups whose instances are replaced by new instance ids.

Written from the EC2 Auto Scaling, Elastic Load Balancing and VPC documentation:

- An Auto Scaling group keeps its desired capacity: an instance found unhealthy is terminated
  and a new one launched "using the current settings of the Auto Scaling group and its
  associated launch template" (Auto Scaling, "Health checks for instances in an Auto Scaling
  group"): a new instance id, a new private address in one of the group's subnets, the same
  behaviour. Deploys, scale-in/out and Spot interruptions replace instances the same way; here
  a share ``churn`` of every group's instances is replaced each day.
- A VPC has one subnet per Availability Zone for each subnet group (public, application,
  data: "3 groups x 3 AZs = 9 subnets", the CDK's VPC example); the Amazon DNS server is at
  the VPC range's base "plus two" (CfnVPC's ``EnableDnsSupport``). The default VPC's range is
  172.31.0.0/16; the others here are 10.x.0.0/16.
- Services call each other through internal load balancers, whose nodes (one per enabled
  Availability Zone) have private addresses from their subnets (ELB ``AvailabilityZone``), so
  an instance's peers are load balancer nodes, data stores (RDS, ElastiCache) in the data
  subnets, AWS service endpoints (S3, DynamoDB, SQS, STS, CloudWatch) at public addresses of
  the region's ranges that vary from day to day, and a few external APIs.

Anomalies, as lateral movement and command and control are described (MITRE ATT&CK T1021
"Remote Services", T1071 "Application Layer Protocol"): ``lateral``, an instance connecting
straight to an instance (or a data store) of a service of its VPC it does not depend on, not
through a load balancer; ``external``, an instance connecting to a public address it has no
business with: half uniformly random, half in the cloud provider's own public ranges (a C2
server rented in the same cloud, beside the endpoints the fleet uses every day). Each kind is
drawn on old instances and, as ``lateral_new`` / ``external_new``, on the test day's new
instances.

Where it simplifies (choices of this bench): outbound peers only (lakewatch's egress view);
distinct pairs per day; group sizes, dependency counts and endpoint pools are this module's
choices; training days have churn too, so some instances have a day or two of history.

The normal test pairs are tagged ``old`` (the instance has training history) or ``new``
(launched on the test day): the quality bench reports each tag's false-positive rate. New
instances are unknown to any model trained before they existed; ``entity_groups`` gives every
instance's ``vpc/subnet`` (as OCSF ``src_endpoint.vpc_uid`` / ``subnet_uid`` would) and its
Auto Scaling group, for scoring a new instance by its group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench.sets import Dataset

AZS = 3
AWS_FIRST_OCTETS = (3, 18, 34, 35, 44, 52, 54)
AWS_SERVICES = {"s3": 4.0, "dynamodb": 1.5, "sqs": 1.5, "sts": 1.0, "monitoring": 1.0}


def _fmt(v: int) -> str:
    return ".".join(str(v >> s & 255) for s in (24, 16, 8, 0))


@dataclass
class _Group:
    name: str
    vpc: int
    subnets: list[tuple[int, int, str]]  # (base, size, subnet id)
    lb_nodes: list[int]
    datastores: list[int] = field(default_factory=list)
    deps: list[int] = field(default_factory=list)  # other groups
    stores: list[list[int]] = field(default_factory=list)  # data stores' addresses
    aws: list[str] = field(default_factory=list)
    saas: list[int] = field(default_factory=list)
    p_dep: np.ndarray = field(default_factory=lambda: np.zeros(0))
    instances: dict[str, int] = field(default_factory=dict)  # id -> address


class _Fleet:
    def __init__(self, rng: np.random.Generator, services: int):
        self.rng = rng
        n_vpc = max(2, services // 15)
        self.vpcs = [172 << 24 | 31 << 16] + [
            10 << 24 | int(b) << 16 for b in rng.choice(np.arange(0, 64), n_vpc - 1, False)
        ]
        self.used: set[int] = set()
        # the region's public ranges (/16s) and each AWS service's endpoint addresses in them
        self.aws_ranges = [
            int(rng.choice(AWS_FIRST_OCTETS)) << 24 | int(b) << 16
            for b in rng.choice(256, 10, replace=False)
        ]
        self.endpoints = {
            svc: np.array(
                [
                    self.aws_ranges[int(rng.integers(len(self.aws_ranges)))]
                    | int(rng.integers(256)) << 8
                    | int(rng.integers(1, 255))
                    for _ in range(96)
                ]
            )
            for svc in AWS_SERVICES
        }
        saas_nets = self._public(rng, 30) & ~255
        self.saas = [[int(n) + int(h) for h in rng.integers(2, 254, 2)] for n in saas_nets]
        self.groups: list[_Group] = []
        self.store_pool: dict[int, list[list[int]]] = {}
        for s in range(services):
            vpc = s % n_vpc
            base = self.vpcs[vpc]
            tier = 0 if rng.random() < 0.15 else 1  # public or application subnets
            azs = rng.choice(AZS, int(rng.integers(2, AZS + 1)), replace=False)
            subnets = [self._subnet(base, tier, int(az)) for az in sorted(azs)]
            nodes = [b + int(rng.integers(4, sz - 1)) for b, sz, _ in subnets]
            self.groups.append(_Group(f"asg-{s:02d}", vpc, subnets, nodes))
        for vpc, base in enumerate(self.vpcs):
            stores = []
            for _ in range(max(2, services // (2 * n_vpc))):
                b, sz, _ = self._subnet(base, 2, int(rng.integers(AZS)))
                stores.append([b + int(h) for h in rng.choice(np.arange(4, sz - 1), 2, False)])
            self.store_pool[vpc] = stores
        for g in self.groups:
            peers = [i for i, h in enumerate(self.groups) if h.vpc == g.vpc and h is not g]
            k = min(len(peers), int(rng.integers(1, 5)))
            g.deps = [int(x) for x in rng.choice(np.array(peers), k, replace=False)]
            pool = self.store_pool[g.vpc]
            g.stores = [pool[int(i)] for i in rng.choice(len(pool), rng.integers(0, 3), False)]
            g.aws = list(rng.choice(list(AWS_SERVICES), rng.integers(2, 6), replace=False))
            g.saas = [int(i) for i in rng.choice(len(self.saas), rng.integers(0, 4), False)]
            g.p_dep = rng.uniform(0.5, 1.0, len(g.deps) + len(g.stores) + len(g.saas))
            for _ in range(max(2, int(rng.lognormal(1.8, 0.6)))):
                self.launch(g)

    @staticmethod
    def _public(rng: np.random.Generator, n: int) -> np.ndarray:
        out: list[int] = []
        while len(out) < n:
            v = int(rng.integers(1 << 24, 224 << 24))
            a, b = v >> 24, v >> 16 & 255
            private = a == 10 or a == 127 or (a == 172 and 16 <= b < 32) or (a == 192 and b == 168)
            if not private and a not in AWS_FIRST_OCTETS:
                out.append(v)
        return np.array(out, np.int64)

    def _subnet(self, base: int, tier: int, az: int) -> tuple[int, int, str]:
        """The VPC's subnet of ``tier`` (public /24, application /20, data /24) in ``az``."""
        if tier == 1:
            return base | (16 * (az + 1)) << 8, 4096, f"subnet-{base >> 16 & 255:02x}{tier}{az}"
        return base | (tier * 100 + az) << 8, 256, f"subnet-{base >> 16 & 255:02x}{tier}{az}"

    def launch(self, g: _Group) -> str:
        rng = self.rng
        while True:
            b, size, _ = g.subnets[int(rng.integers(len(g.subnets)))]
            addr = b + int(rng.integers(4, size - 1))
            if addr not in self.used:
                break
        self.used.add(addr)
        iid = "i-0" + "".join(f"{x:x}" for x in rng.integers(0, 16, 16))
        g.instances[iid] = addr
        return iid

    def replace(self, share: float) -> list[str]:
        """Replace ``share`` of every group's instances; the new ids."""
        new = []
        for g in self.groups:
            for iid in [i for i in g.instances if self.rng.random() < share]:
                del g.instances[iid]
                new.append(self.launch(g))
        return new

    def traffic(self, g: _Group) -> list[int]:
        """One instance's distinct peers for one day."""
        rng = self.rng
        out = {self.vpcs[g.vpc] + 2}  # the VPC's DNS server
        targets = (
            [self.groups[d].lb_nodes for d in g.deps] + g.stores + [self.saas[i] for i in g.saas]
        )
        for addrs, p in zip(targets, g.p_dep, strict=True):
            if rng.random() < p:
                out.update(addrs[: int(rng.integers(1, len(addrs) + 1))])
        for svc in g.aws:
            pool = self.endpoints[svc]
            k = min(pool.size, 1 + rng.poisson(AWS_SERVICES[svc]))
            out.update(int(x) for x in rng.choice(pool, k, replace=False))
        return sorted(out)

    def day(self) -> list[tuple[str, int]]:
        return [(iid, a) for g in self.groups for iid in g.instances for a in self.traffic(g)]


def churn(
    seed: int = 2026, services: int = 80, days: int = 7, share: float = 0.2, per_kind: int = 1500
) -> Dataset:
    rng = np.random.default_rng(seed)
    fleet = _Fleet(rng, services)
    history: list[tuple[str, int]] = []
    for d in range(days):
        if d:
            fleet.replace(share)
        history += fleet.day()
    new = set(fleet.replace(share))
    test = fleet.day()
    known = {i for i, _ in history}
    held = rng.random(len(history)) < 0.1
    seen = set(history) | set(test)

    def pairs(rows) -> tuple[list[str], list[str]]:
        return [e for e, _ in rows], [_fmt(a) for _, a in rows]

    def anomalies(instances: list[tuple[_Group, str]], n: int) -> dict[str, list]:
        lateral: list[tuple[str, int]] = []
        external: list[tuple[str, int]] = []
        while len(lateral) < n:
            g, iid = instances[int(rng.integers(len(instances)))]
            others = [
                h
                for i, h in enumerate(fleet.groups)
                if h.vpc == g.vpc and h is not g and i not in g.deps
            ]
            if rng.random() < 0.7 and others:
                h = others[int(rng.integers(len(others)))]
                target = list(h.instances.values())[int(rng.integers(len(h.instances)))]
            else:
                mine = {a for s in g.stores for a in s}
                pool = [a for s in fleet.store_pool[g.vpc] for a in s if a not in mine]
                if not pool:
                    continue
                target = pool[int(rng.integers(len(pool)))]
            if (iid, target) not in seen:
                lateral.append((iid, target))
        while len(external) < n:
            g, iid = instances[int(rng.integers(len(instances)))]
            if rng.random() < 0.5:
                target = int(fleet._public(rng, 1)[0])
            else:
                r = fleet.aws_ranges[int(rng.integers(len(fleet.aws_ranges)))]
                target = r | int(rng.integers(256)) << 8 | int(rng.integers(1, 255))
                if any(target in pool for pool in fleet.endpoints.values()):
                    continue
            external.append((iid, target))
        return {"lateral": lateral, "external": external}

    live = [(g, iid) for g in fleet.groups for iid in g.instances]
    old = anomalies([x for x in live if x[1] in known], per_kind)
    fresh = anomalies([x for x in live if x[1] in new], per_kind)
    groups = {
        iid: f"vpc-{g.vpc}/{next(s for b, sz, s in g.subnets if b <= a < b + sz)}/{g.name}"
        for g in fleet.groups
        for iid, a in g.instances.items()
    }
    normal = [r for r in test if r[0] in known or r[0] in new]
    n_new = sum(r[0] in new for r in normal)
    return Dataset(
        "churn",
        pairs([r for r, h in zip(history, held, strict=True) if not h]),
        pairs([r for r, h in zip(history, held, strict=True) if h]),
        pairs(normal),
        {
            **{k: pairs(v) for k, v in old.items()},
            **{f"{k}_new": pairs(v) for k, v in fresh.items()},
        },
        [
            f"{services} Auto Scaling groups in {len(fleet.vpcs)} VPCs, {len(live)} instances "
            f"on the test day, {len(new)} of them new ({n_new:,} of {len(normal):,} normal "
            f"pairs); {share:.0%} of each group replaced daily over {days} training days"
        ],
        normal_tags=["new" if r[0] in new else "old" for r in normal],
        entity_groups=groups,
    )
