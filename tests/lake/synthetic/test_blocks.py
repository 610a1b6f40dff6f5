"""lake.synthetic.blocks: flow and resolver rows before they are OCSF: scalars broadcast,
NODATA rows carry no protocol or flags, answers are typed A or AAAA by their address."""

import numpy as np
import pyarrow as pa

from lakewatch.lake.synthetic.blocks import dns_block, vpc_block


def test_flow_rows_broadcast_scalars_and_nodata_has_no_protocol():
    block = vpc_block(
        np.array([1, 2, 3]),
        s_port=443,
        s_ip=pa.array(["10.0.0.1"] * 3),
        s_eni=0,
        d_port=np.array([80, 81, 82]),
        d_ip=pa.array(["1.1.1.1", "1.1.1.2", None]),
        d_eni=-1,
        direction=np.array([2, 2, 99]),
        packets=5,
        nbytes=500,
        verdict=np.array([0, 1, 2]),
        label=4,
    )
    assert {len(v) for v in block.values()} == {3}
    assert block["s_port"].to_pylist() == [443] * 3
    assert block["proto"].to_pylist() == [6, 6, None] and block["flags"].to_pylist() == [
        19,
        19,
        None,
    ]
    assert block["ipver"].to_pylist() == [0, 0, 2] and block["label"].to_pylist() == [4] * 3


def test_resolver_rows_hold_their_answers_typed_by_address():
    block = dns_block(
        np.array([10, 20]),
        s_vpc=pa.array(["vpc-1", "vpc-1"]),
        s_ip=pa.array(["10.0.0.1", "10.0.0.1"]),
        s_inst=pa.array(["i-1", "i-1"]),
        resolver=None,
        hostnames=pa.array(["a.example.", "nx.example."]),
        qtype=np.array([0, 0]),
        counts=np.array([2, 0]),
        rdata=pa.array(["1.2.3.4", "2001:db8::1"]),
        rcode=np.array([0, 3]),
        rng=np.random.default_rng(0),
    )
    answers = block["answers"].to_pylist()
    assert [[a["type"] for a in row] for row in answers] == [["A", "AAAA"], []]
    assert block["first_rdata"].to_pylist() == ["1.2.3.4", None]  # an NXDOMAIN has none
    assert block["d_inst"].to_pylist() == [None, None] and block["label"].to_pylist() == [-1, -1]
