"""lake.synthetic.slices: a slice gathers its account's blocks and labels; a label's index is
what its rows carry, and on-premises queries come through the account's resolver endpoint."""

import numpy as np
import pyarrow as pa

from lakewatch.lake.synthetic.options import Event


def test_labels_index_rows_and_resolver_queries_name_the_endpoint(make_slice, world):
    sl = make_slice(account=1)
    assert set(sl.instances) == set(world.accounts[1].instances)
    event = Event("e1", "c2_beacon", 1, 0)
    assert sl.label(event, "i-1", "45.0.0.1", "egress_peer") == 0
    assert sl.label(event, "i-1", "45.0.0.1", "dns_answer", "ROUTE53") == 1
    assert [(x.kind, x.view, x.source) for x in sl.labels] == [
        ("c2_beacon", "egress_peer", "VPC_FLOW"),
        ("c2_beacon", "dns_answer", "ROUTE53"),
    ]
    one = pa.array(["x"])
    sl.queries(
        np.array([sl.t0]),
        from_resolver=True,
        s_vpc=one,
        s_ip=pa.array(["192.168.1.1"]),
        s_inst=pa.array([None], pa.string()),
        hostnames=pa.array(["db.internal."]),
        qtype=np.zeros(1),
        counts=np.zeros(1, np.int64),
        rdata=pa.array([], pa.string()),
        rcode=np.zeros(1),
    )
    endpoint, interface = world.accounts[1].resolver_endpoint
    assert sl.dns[0]["d_inst"].to_pylist() == [endpoint]
    assert sl.dns[0]["d_iface"].to_pylist() == [interface]
