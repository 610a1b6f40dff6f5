"""lake.synthetic.anomalies: one writer per kind; each writes labelled rows whose pairs are
what the kind claims: lateral movement to another service's hosts, c2 and exfiltration to
hostile ranges, a scan from an unused private range across many instances, a rare domain
resolved then called."""

import ipaddress

import pyarrow as pa
import pytest

from lakewatch.lake.synthetic.anomalies import INJECTORS, inject
from lakewatch.lake.synthetic.options import ANOMALY_KINDS, Event
from lakewatch.lake.synthetic.world import HOSTILE_RANGES, SERVICE_BY_NAME

HOSTILE = [ipaddress.ip_network(c) for c in HOSTILE_RANGES]


def _hostile(ip: str) -> bool:
    return any(ipaddress.ip_address(ip) in net for net in HOSTILE)


@pytest.mark.parametrize("kind", ANOMALY_KINDS)
def test_every_kind_writes_labelled_rows_of_its_own_shape(make_slice, world, kind):
    sl = make_slice(seed=11)
    inject(sl, Event("e", kind, 0, 0))
    assert sl.labels and {x.kind for x in sl.labels} == {kind}
    rows = [b for b in (*sl.vpc, *sl.dns)]
    labels = pa.concat_arrays([b["label"] for b in rows]).to_pylist()
    assert set(labels) == set(range(len(sl.labels)))  # every label has rows, no row unlabelled
    uid = {i.uid: i for i in world.instances}
    for x in sl.labels:
        if kind == "lateral_movement":
            entity = uid[x.entity]
            other = next(i for i in world.instances if i.ip == x.ip)
            if x.view == "egress_peer":
                assert other.service not in SERVICE_BY_NAME[entity.service].deps
                assert other.service != entity.service
        elif kind == "scan":
            assert x.view == "ingress_peer" and ipaddress.ip_address(x.ip).is_private
            assert x.ip not in world.known_addresses()
        else:
            assert _hostile(x.ip)
    if kind == "scan":
        assert len({x.entity for x in sl.labels}) >= 3
    if kind == "rare_domain":
        assert {x.view for x in sl.labels} == {"dns_answer", "egress_peer"}


def test_one_writer_per_kind():
    assert tuple(INJECTORS) == ANOMALY_KINDS
