"""lake.synthetic.world: one seed, one environment: every service has an instance in its own
tier's subnets, peers are the service's dependencies and vendors, and attacker ranges never
overlap anything normal."""

import ipaddress

import pytest

from lakewatch.lake.synthetic.world import HOSTILE_RANGES, SERVICE_BY_NAME, SERVICES, World


def test_the_same_seed_builds_the_same_world():
    a, b = World(9, 2, 10, "eu-west-1"), World(9, 2, 10, "eu-west-1")
    assert [i.__dict__ for i in a.instances] == [i.__dict__ for i in b.instances]
    assert [i.ip for i in World(10, 2, 10, "eu-west-1").instances] != [i.ip for i in a.instances]
    assert a.instances[0].zone.startswith("euw1-az")


def test_instances_sit_in_their_tiers_subnets_and_every_service_runs(world):
    for account in world.accounts:
        services = {world.instances[j].service for j in account.instances}
        assert services == {s.name for s in SERVICES}
        for j in account.instances:
            inst = world.instances[j]
            tier = SERVICE_BY_NAME[inst.service].tier
            nets = dict(account.subnets[tier])
            assert ipaddress.ip_address(inst.ip) in nets[inst.subnet_uid]
            assert ipaddress.ip_address(inst.ip) in account.cidr


def test_peers_are_dependencies_and_vendors_only(world):
    api = world.service_instances(0, "api")[0]
    internal = {ip for ip, _, kind in world.peers[api.index] if kind == "internal"}
    deps = {i.ip for dep in SERVICE_BY_NAME["api"].deps for i in world.service_instances(0, dep)}
    assert internal == deps and api.ip not in internal
    vendors = {kind for _, _, kind in world.peers[api.index] if kind != "internal"}
    assert vendors == set(SERVICE_BY_NAME["api"].vendors)


def test_hostile_ranges_hold_nothing_known(world):
    hostile = [ipaddress.ip_network(c) for c in HOSTILE_RANGES]
    for address in world.known_addresses():
        assert not any(ipaddress.ip_address(address) in net for net in hostile), address


def test_impossible_worlds_are_refused():
    with pytest.raises(ValueError, match="accounts must be at least 1"):
        World(1, 0, 10, "us-east-1")
    with pytest.raises(ValueError, match="at least 8 \\(one per service\\)"):
        World(1, 1, 5, "us-east-1")
