"""The synthetic environment behind a generated lake: accounts, VPCs, services and their peers.

Each account runs the same application stack in its own VPC. Services sit in tiered subnets
(public, app, data: two per tier, one per AZ) and talk to their dependencies: sibling services'
instances, AWS endpoints and a few SaaS vendors, each a fixed pool of addresses inside a real
provider's range. Every instance uses a random subset of its service's peers each day, so
tomorrow's normal traffic includes addresses its siblings used today.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import numpy as np

REGION_ZONES = ("az1", "az2")


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    tier: str  # public | app | data
    weight: int  # share of the account's instances
    port: int
    deps: tuple[str, ...]  # internal services it calls
    vendors: tuple[str, ...]  # external peers it calls
    dual_stack: bool = False


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("web", "public", 3, 443, ("api", "cache"), ("cdn", "s3"), dual_stack=True),
    ServiceSpec("api", "app", 4, 8080, ("db", "cache", "auth"), ("s3", "dynamodb", "payments")),
    ServiceSpec("auth", "app", 2, 8443, ("authdb",), ("idp", "monitoring")),
    ServiceSpec("worker", "app", 3, 9000, ("db", "cache"), ("sqs", "s3", "monitoring", "git")),
    ServiceSpec("batch", "app", 2, 9100, ("db",), ("s3", "partner")),
    ServiceSpec("db", "data", 2, 5432, ("db",), ("s3", "monitoring")),
    ServiceSpec("authdb", "data", 2, 5432, ("authdb",), ("s3",)),
    ServiceSpec("cache", "data", 2, 6379, ("cache",), ("monitoring",)),
)
SERVICE_BY_NAME = {s.name: s for s in SERVICES}

# External peers: (hostname, IPv4 ranges, pool size, IPv6 range or None, port)
VENDORS: dict[str, tuple[str, tuple[str, ...], int, str | None, int]] = {
    "s3": (
        "s3.{region}.amazonaws.com",
        ("52.216.0.0/15", "3.5.0.0/19", "54.231.0.0/16"),
        96,
        "2600:1fa0::/32",
        443,
    ),
    "dynamodb": ("dynamodb.{region}.amazonaws.com", ("3.218.180.0/22",), 24, None, 443),
    "sqs": ("sqs.{region}.amazonaws.com", ("52.94.224.0/20",), 16, None, 443),
    "cdn": ("assets.fastly-edge.example.com", ("151.101.0.0/16",), 24, "2a04:4e42::/32", 443),
    "payments": ("api.payments-vendor.example.com", ("54.187.0.0/16",), 8, None, 443),
    "idp": ("login.idp-vendor.example.com", ("104.16.0.0/13",), 12, "2606:4700::/32", 443),
    "monitoring": ("intake.metrics-vendor.example.com", ("3.233.144.0/20",), 16, None, 443),
    "git": ("github.com", ("140.82.112.0/20",), 8, None, 443),
    "partner": ("sftp.partner.example.net", ("198.18.0.0/15",), 4, None, 22),
}

# Where legitimate internet clients of the public tier come from (broad eyeball ranges).
CLIENT_RANGES = (
    "24.0.0.0/8",
    "73.0.0.0/8",
    "81.0.0.0/8",
    "98.0.0.0/8",
    "174.0.0.0/8",
    "2.0.0.0/8",
    "86.0.0.0/8",
    "112.0.0.0/8",
    "189.0.0.0/8",
    "37.0.0.0/8",
)
# Where never-seen attacker infrastructure lives (disjoint from everything above).
HOSTILE_RANGES = ("45.0.0.0/8", "185.0.0.0/8", "193.0.0.0/8", "91.0.0.0/8", "5.0.0.0/8")
ONPREM_RANGE = "192.168.0.0/16"


@dataclass
class Instance:
    index: int
    uid: str
    eni: str
    ip: str
    ipv6: str | None
    service: str
    account: int
    subnet_uid: str
    zone: str


@dataclass
class Account:
    index: int
    uid: str
    vpc_uid: str
    cidr: ipaddress.IPv4Network
    subnets: dict[str, list[tuple[str, ipaddress.IPv4Network]]]  # tier -> [(subnet uid, cidr)]
    instances: list[int] = field(default_factory=list)
    nat_enis: list[tuple[str, str]] = field(default_factory=list)  # (eni, private ip)
    resolver_endpoint: tuple[str, str] = ("", "")  # (rslvr-in-..., rni-...)
    hostnames: dict[str, str] = field(default_factory=dict)  # service -> internal DNS name


@dataclass
class Vendor:
    name: str
    hostname: str
    ipv4: list[str]
    ipv6: list[str]
    port: int


class World:
    """A deterministic environment for one seed."""

    def __init__(self, seed: int, accounts: int, instances_per_account: int, region: str):
        if accounts < 1:
            raise ValueError("accounts must be at least 1")
        if instances_per_account < len(SERVICES):
            raise ValueError(
                f"instances per account must be at least {len(SERVICES)} (one per service)"
            )
        self.seed = seed
        self.region = region
        self.rng = np.random.default_rng(seed)
        self.accounts: list[Account] = []
        self.instances: list[Instance] = []
        self.vendors = {name: self._vendor(name, *spec) for name, spec in sorted(VENDORS.items())}
        for a in range(accounts):
            self._account(a, instances_per_account)
        self.peers = {i.index: self._peers(i) for i in self.instances}

    # construction --------------------------------------------------------------------------

    def _hex(self, n: int) -> str:
        return "".join(self.rng.choice(list("0123456789abcdef"), n))

    def _vendor(self, name: str, host: str, ranges, size, v6, port) -> Vendor:
        nets = [ipaddress.ip_network(r) for r in ranges]
        ipv4 = sorted({str(self._random_in(nets[k % len(nets)])) for k in range(size)})
        ipv6 = []
        if v6:
            net6 = ipaddress.ip_network(v6)
            ipv6 = [str(self._random_in(net6)) for _ in range(max(2, size // 4))]
        return Vendor(name, host.format(region=self.region) + ".", ipv4, ipv6, port)

    def _random_in(self, net):
        span = min(net.num_addresses - 2, 2**62)
        offset = int(self.rng.integers(1, span)) if span > 1 else 0
        return net.network_address + offset

    def _account(self, a: int, n_instances: int) -> None:
        uid = f"{int(self.rng.integers(10**11, 10**12)):012d}"
        cidr = ipaddress.IPv4Network(f"10.{16 + a}.0.0/16")
        third = {"public": (0, 1), "app": (10, 11), "data": (20, 21)}
        subnets = {
            tier: [
                (f"subnet-{self._hex(17)}", ipaddress.IPv4Network(f"10.{16 + a}.{t}.0/24"))
                for t in octets
            ]
            for tier, octets in third.items()
        }
        acct = Account(a, uid, f"vpc-{self._hex(17)}", cidr, subnets)
        acct.resolver_endpoint = (f"rslvr-in-{self._hex(17)}", f"rni-{self._hex(17)}")
        acct.nat_enis = [
            (f"eni-{self._hex(17)}", str(net.network_address + 5 + k))
            for k, (_, net) in enumerate(subnets["public"])
        ]
        for svc in SERVICES:
            acct.hostnames[svc.name] = (
                f"{svc.name}.cluster-{self._hex(12)}.{self.region}.rds.amazonaws.com."
                if svc.tier == "data"
                else f"{svc.name}.a{a}.corp.internal."
            )
        self.accounts.append(acct)
        used: set[str] = set()
        for svc, count in zip(
            SERVICES, _allocate(n_instances, [s.weight for s in SERVICES]), strict=True
        ):
            for k in range(count):
                zone_i = k % 2
                subnet_uid, net = subnets[svc.tier][zone_i]
                while True:
                    ip = str(net.network_address + int(self.rng.integers(10, 250)))
                    if ip not in used:
                        used.add(ip)
                        break
                ipv6 = None
                if svc.dual_stack:
                    ipv6 = f"2600:1f18:{0x4000 + a:x}:{zone_i:x}00::{len(used):x}"
                inst = Instance(
                    index=len(self.instances),
                    uid=f"i-{self._hex(17)}",
                    eni=f"eni-{self._hex(17)}",
                    ip=ip,
                    ipv6=ipv6,
                    service=svc.name,
                    account=a,
                    subnet_uid=subnet_uid,
                    zone=f"{_zone_prefix(self.region)}-{REGION_ZONES[zone_i]}",
                )
                acct.instances.append(inst.index)
                self.instances.append(inst)

    def _peers(self, inst: Instance) -> list[tuple[str, int, str]]:
        """(address, port, kind) the instance's service talks to; kind is internal|vendor name."""
        svc = SERVICE_BY_NAME[inst.service]
        acct = self.accounts[inst.account]
        peers = []
        for dep in svc.deps:
            dep_port = SERVICE_BY_NAME[dep].port
            for j in acct.instances:
                other = self.instances[j]
                if other.service == dep and other.index != inst.index:
                    peers.append((other.ip, dep_port, "internal"))
        for vendor in svc.vendors:
            v = self.vendors[vendor]
            peers.extend((ip, v.port, vendor) for ip in v.ipv4)
        return peers

    # queries used by the generator ----------------------------------------------------------

    def service_instances(self, account: int, service: str) -> list[Instance]:
        return [
            self.instances[j]
            for j in self.accounts[account].instances
            if self.instances[j].service == service
        ]

    def known_addresses(self) -> set[str]:
        addrs = {i.ip for i in self.instances}
        for v in self.vendors.values():
            addrs.update(v.ipv4)
        return addrs


def _allocate(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` by ``weights`` with at least one each (largest remainder)."""
    base = [1] * len(weights)
    rest = total - len(weights)
    shares = [rest * w / sum(weights) for w in weights]
    extra = [int(s) for s in shares]
    order = sorted(range(len(weights)), key=lambda i: shares[i] - extra[i], reverse=True)
    for i in order[: rest - sum(extra)]:
        extra[i] += 1
    return [b + e for b, e in zip(base, extra, strict=True)]


def _zone_prefix(region: str) -> str:
    parts = region.split("-")
    return f"{parts[0]}{parts[1][0]}{parts[-1]}"
