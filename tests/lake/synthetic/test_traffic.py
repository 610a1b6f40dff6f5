"""lake.synthetic.traffic: a slice's normal traffic is about the rows asked for, inside the
slice's time, unlabelled, and each instance's outbound calls go only to its own peers (the
services it depends on and its vendors), or from a dual-stack instance to vendors' IPv6."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakewatch.lake.synthetic.traffic import daily_usage, normal_traffic
from lakewatch.lake.synthetic.world import SERVICE_BY_NAME


def _concat(blocks):
    return {k: pa.concat_arrays([b[k] for b in blocks]) for k in blocks[0]}


def test_normal_traffic_is_the_size_asked_for_in_time_and_unlabelled(make_slice, pools):
    sl = make_slice()
    normal_traffic(sl, 2_000, 400, daily_usage(pools, np.random.default_rng(0)))
    vpc, dns = _concat(sl.vpc), _concat(sl.dns)
    assert 0.8 * 2_000 < len(vpc["time"]) < 1.25 * 2_000
    assert 0.8 * 400 < len(dns["time"]) < 1.25 * 400
    for block in (vpc, dns):
        times = block["time"].to_numpy()
        assert times.min() >= sl.t0 and times.max() < sl.t1 + 600_000
        assert set(block["label"].to_pylist()) == {-1} and sl.labels == []


def test_an_instances_accepted_calls_go_to_its_peers(make_slice, pools, world):
    sl = make_slice()
    normal_traffic(sl, 3_000, 0, daily_usage(pools, np.random.default_rng(1)))
    vpc = _concat(sl.vpc)
    outbound = pc.and_(pc.equal(vpc["direction"], 2), pc.equal(vpc["verdict"], 0))
    src = vpc["s_eni"].filter(outbound).to_numpy()
    dst = vpc["d_ip"].filter(outbound).to_pylist()
    peers = {i.index: {ip for ip, _, _ in world.peers[i.index]} for i in world.instances}
    vendor_v6 = {ip for v in world.vendors.values() for ip in v.ipv6}
    for inst in world.instances:  # dual-stack instances reach vendors' IPv6 ranges
        if SERVICE_BY_NAME[inst.service].dual_stack:
            peers[inst.index] |= vendor_v6
    own = [d in peers[s] for s, d in zip(src, dst, strict=True) if s in peers]
    assert len(own) > 500 and all(own)
