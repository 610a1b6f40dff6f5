"""lake.synthetic.pools: every address the world knows is interned once, instances keep their
index in the address pool and the ENI table, and ranges are (first address, size)."""

import ipaddress

import numpy as np

from lakewatch.lake.synthetic.pools import ranges


def test_instances_keep_their_index_and_addresses_are_interned_once(world, pools):
    addresses = pools.addresses.to_pylist()
    assert len(addresses) == len(set(addresses))
    for inst in world.instances:
        assert addresses[inst.index] == inst.ip
        assert pools.address(np.array([inst.index])).to_pylist() == [inst.ip]
        assert pools.eni["instance_uid"][inst.index].as_py() == inst.uid
    assert pools.address(np.array([-1])).to_pylist() == [None]
    vendor_ips = {ip for v in world.vendors.values() for ip in v.ipv4}
    assert vendor_ips <= set(addresses)


def test_ranges_are_first_address_and_size():
    assert ranges(["10.1.0.0/16", "2001:db8::/126"]) == [
        (int(ipaddress.ip_address("10.1.0.0")), 65536),
        (int(ipaddress.ip_address("2001:db8::")), 4),
    ]
