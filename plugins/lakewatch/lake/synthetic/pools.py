"""The lake's address, interface and hostname pools, built once from the world.

Rows refer to addresses, ENIs and hostnames by index into these pools, so a day's traffic is
numpy arrays of indices until an object's table is built.
"""

from __future__ import annotations

import ipaddress

import numpy as np
import pyarrow as pa

from lakewatch.lake import arrow_util as au
from lakewatch.lake.synthetic.world import (
    CLIENT_RANGES,
    HOSTILE_RANGES,
    ONPREM_RANGE,
    SERVICES,
    World,
)

# Per instance: its peers' (address, port, internal instance or -1, vendor name, DNS name,
# DNS answer pool) as parallel arrays.
Peers = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class Pools:
    def __init__(self, world: World, seed: int):
        addrs = [i.ip for i in world.instances]
        self.addr_index = {a: k for k, a in enumerate(addrs)}
        for v in world.vendors.values():
            for address in (*v.ipv4, *v.ipv6):
                self.addr_index.setdefault(address, len(addrs))
                if len(addrs) < len(self.addr_index):
                    addrs.append(address)
        self.v6_index = {i.index: _intern(addrs, i.ipv6) for i in world.instances if i.ipv6}
        self._interfaces(world, seed, addrs)
        self.addresses = pa.array(addrs, pa.string())
        self.instance_uids = pa.array([i.uid for i in world.instances], pa.string())
        self.vpc_uids = pa.array([a.vpc_uid for a in world.accounts], pa.string())
        self.client_ranges = ranges(CLIENT_RANGES)
        self.hostile_ranges = ranges(HOSTILE_RANGES)
        self.noise_ranges = ranges((*CLIENT_RANGES, "13.0.0.0/8", "64.0.0.0/8"))
        self.onprem = ranges((ONPREM_RANGE,))
        self._hostnames(world)
        self._answer_pools(world)
        self._peers(world)

    def address(self, index: np.ndarray) -> pa.Array:
        """The addresses at ``index`` (strings)."""
        return au.take(self.addresses, index)

    def _interfaces(self, world: World, seed: int, addrs: list[str]) -> None:
        """ENIs: instances first (same index), then NAT gateways and Lambda ENIs ('-'
        instance), whose addresses join ``addrs``."""
        columns: dict[str, list] = {
            k: [] for k in ("interface_uid", "vpc_uid", "instance_uid", "subnet_uid", "zone")
        }

        def add_eni(eni: str, vpc: str, instance: str, subnet: str, zone: str) -> None:
            for name, value in zip(columns, (eni, vpc, instance, subnet, zone), strict=True):
                columns[name].append(value)

        for i in world.instances:
            add_eni(i.eni, world.accounts[i.account].vpc_uid, i.uid, i.subnet_uid, i.zone)
        self.nat_eni: dict[int, list[int]] = {}
        self.nat_addr: dict[int, list[int]] = {}
        rng = np.random.default_rng([seed, 99])
        for acct in world.accounts:
            for k, (eni, ip) in enumerate(acct.nat_enis):
                self.nat_eni.setdefault(acct.index, []).append(len(columns["interface_uid"]))
                self.nat_addr.setdefault(acct.index, []).append(_intern(addrs, ip))
                subnet_uid = acct.subnets["public"][k][0]
                zone = world.instances[acct.instances[k]].zone
                add_eni(eni, acct.vpc_uid, "-", subnet_uid, zone)
            for k in range(2):  # Lambda / Fargate ENIs in the app subnets
                self.nat_eni[acct.index].append(len(columns["interface_uid"]))
                ip = str(acct.subnets["app"][k][1].network_address + 200 + int(rng.integers(0, 50)))
                self.nat_addr[acct.index].append(_intern(addrs, ip))
                add_eni(
                    f"eni-{rng.integers(0, 2**63):017x}"[:21],
                    acct.vpc_uid,
                    "-",
                    acct.subnets["app"][k][0],
                    world.instances[acct.instances[k]].zone,
                )
        self.eni = {name: pa.array(col, pa.string()) for name, col in columns.items()}

    def _hostnames(self, world: World) -> None:
        """Per account internal names, then vendor names."""
        hosts: list[str] = []
        self.host_internal: dict[tuple[int, str], int] = {}
        for acct in world.accounts:
            for svc_name, name in sorted(acct.hostnames.items()):
                self.host_internal[(acct.index, svc_name)] = len(hosts)
                hosts.append(name)
        self.host_vendor: dict[str, int] = {}
        for name, v in sorted(world.vendors.items()):
            self.host_vendor[name] = len(hosts)
            hosts.append(v.hostname)
        self.hostnames = pa.array(hosts, pa.string())

    def _answer_pools(self, world: World) -> None:
        """DNS answer pools: one per internal service per account and one per vendor."""
        pools: list[list[int]] = []
        pools_v6: list[list[int]] = []
        self.group: dict[tuple[int, str] | str, int] = {}
        for acct in world.accounts:
            for svc in SERVICES:
                self.group[(acct.index, svc.name)] = len(pools)
                pools.append(
                    [self.addr_index[x.ip] for x in world.service_instances(acct.index, svc.name)]
                )
                pools_v6.append([])
        for name, v in sorted(world.vendors.items()):
            self.group[name] = len(pools)
            pools.append([self.addr_index[x] for x in v.ipv4])
            pools_v6.append([self.addr_index[x] for x in v.ipv6])
        self.pool_flat, self.pool_start, self.pool_size = _flatten(pools)
        self.pool6_flat, self.pool6_start, self.pool6_size = _flatten(pools_v6)

    def _peers(self, world: World) -> None:
        self.peers: dict[int, Peers] = {}
        ip_to_instance = {i.ip: i.index for i in world.instances}
        for i in world.instances:
            p = world.peers[i.index]
            pinst = [ip_to_instance.get(a, -1) for a, _, _ in p]
            keys = [
                (i.account, world.instances[j].service) if j >= 0 else kind
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
                np.array([self.group[k] for k in keys], dtype=np.int64),
            )


def _intern(addrs: list[str], ip: str) -> int:
    addrs.append(ip)
    return len(addrs) - 1


def _flatten(pools: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sizes = np.array([len(p) for p in pools], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    flat = np.array([x for p in pools for x in p], dtype=np.int64)
    return flat, starts, sizes


def ranges(cidrs) -> list[tuple[int, int]]:
    """(first address, size) of each CIDR, for ``arrow_util.random_in_ranges``."""
    nets = [ipaddress.ip_network(c) for c in cidrs]
    return [(int(net.network_address), net.num_addresses) for net in nets]
