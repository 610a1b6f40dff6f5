"""lake.synthetic.rcf_anomalies: the kinds shaped for Random Cut Forest. Each writer fills
whole hours with rows of its own shape (admin ports from a web instance to the peers it uses,
a regular beacon on a port none of its peers use, ten times the usual bytes out to a usual
peer, a protocol normal traffic never uses); in a generated lake of either source version the
rows are in the written Parquet with those fields, the truth rows name them, the other kinds'
labels and object keys are those of a lake without them, and rcf_features.sql gives their
instance-hours the feature values the kind changes."""

import io
import ipaddress
from collections import defaultdict
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakewatch.extract import rcf_features as rf
from lakewatch.extract.engine import DuckAthena, LakeLocation
from lakewatch.extract.views import QueryContext
from lakewatch.lake.layout import Source
from lakewatch.lake.synthetic import RCF_KINDS, GenerateOptions, LakeGenerator
from lakewatch.lake.synthetic.options import Event
from lakewatch.lake.synthetic.rcf_anomalies import (
    ADMIN_PORTS,
    ESP,
    GRE,
    HOUR_MS,
    ICMP,
    RCF_INJECTORS,
    inject_rcf,
    usual_bytes_out,
)
from lakewatch.lake.synthetic.traffic import daily_usage, normal_traffic
from lakewatch.lake.synthetic.world import HOSTILE_RANGES, SERVICE_BY_NAME
from lakewatch.lake.truth import rows_from_labels
from lakewatch.lake.write import parquet_bytes

HOSTILE = [ipaddress.ip_network(c) for c in HOSTILE_RANGES]
DAY = date(2026, 11, 5)


def _hostile(ip: str) -> bool:
    return any(ipaddress.ip_address(ip) in net for net in HOSTILE)


def _rows(sl) -> dict[str, np.ndarray]:
    cols = {k: pa.concat_arrays([b[k] for b in sl.vpc]) for k in sl.vpc[0]}
    out = {k: v.to_numpy(zero_copy_only=False) for k, v in cols.items()}
    return {k: v[out["label"] >= 0] for k, v in out.items()}


@pytest.fixture
def written(make_slice, pools):
    def write(kind: str, seed: int):
        sl = make_slice(seed=seed)
        usage = daily_usage(pools, np.random.default_rng(seed))
        normal_traffic(sl, 3_000, 0, usage)
        normal = len(sl.vpc)
        usual = {i: usual_bytes_out(sl, int(i)) for i in sl.instances}
        inject_rcf(sl, Event("e", kind, 0, 0), usage, np.random.default_rng([seed, 5]))
        assert len(sl.vpc) > normal and {x.kind for x in sl.labels} == {kind}
        return sl, usage, usual, _rows(sl)

    return write


@pytest.mark.parametrize("kind", RCF_KINDS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_kind_writes_whole_hours_of_labelled_rows_of_its_shape(written, world, kind, seed):
    sl, usage, usual, rows = written(kind, seed)
    assert set(rows["label"]) == set(range(len(sl.labels)))  # every label has rows
    hours = set(rows["time"] // HOUR_MS)
    assert len(hours) <= 3 and min(rows["time"]) >= sl.t0 and max(rows["time"]) < sl.t1
    uid = {i.uid: i for i in world.instances}
    out = rows["direction"] == 2
    actors = {int(e) for e in rows["s_eni"][out]}
    assert len(actors) == 1
    actor = world.instances[actors.pop()]
    peers, ports, pinst, *_ = sl.pools.peers[actor.index]
    if kind == "rcf_admin_port":
        assert SERVICE_BY_NAME[actor.service].tier == "public"
        assert len(set(rows["d_port"])) == 1 and rows["d_port"][0] in ADMIN_PORTS
        victims = {int(e) for e in rows["d_eni"][~out]}
        today = set(pinst[usage[actor.index][0]]) - {-1}
        today = today if len(today) >= 2 else set(pinst) - {-1}
        assert len(victims) >= 2 and victims <= today  # its usual peers, each side logged
        assert {x.entity for x in sl.labels} == {
            actor.uid,
            *(world.instances[v].uid for v in victims),
        }
    elif kind == "rcf_new_port_beacon":
        (address,) = set(rows["d_ip"][out])
        assert _hostile(address) and {x.ip for x in sl.labels} == {address}
        (port,) = set(rows["d_port"][out])
        assert 1024 <= port < 32768 and port not in set(ports)
        gaps = np.diff(np.sort(rows["time"][out]))
        assert gaps.size >= 25 and gaps.max() - gaps.min() <= 0.22 * np.median(gaps)
        assert (rows["packets"] <= 6).all() and (rows["bytes"] <= 6 * 200).all()
    elif kind == "rcf_volume_spike":
        (address,) = set(rows["d_ip"][out])
        known = {
            str(sl.pools.addresses[int(a)]) for a, p in zip(peers, pinst, strict=True) if p < 0
        }
        assert address in known and len(hours) == 1  # a usual (vendor) peer, one hour
        assert rows["bytes"][out].sum() >= 10 * usual[actor.index]
        assert (
            rows["d_port"][out][0]
            == ports[[str(sl.pools.addresses[int(a)]) for a in peers].index(address)]
        )
    else:
        assert set(rows["proto"]) <= {ICMP, GRE, ESP} and len(set(rows["proto"])) == 1
        assert (rows["s_port"] == 0).all() and (rows["d_port"] == 0).all()
        per_minute = np.diff(np.sort(rows["time"][out]))
        assert 15 <= out.sum() <= 60 and (per_minute >= 59_000).all()
        if rows["proto"][0] == ICMP:  # a flood on a peer it uses: 84-byte echoes
            assert (rows["packets"] >= 5_000).all() and (
                rows["bytes"] == rows["packets"] * 84
            ).all()
            assert set(rows["d_eni"][~out]) <= set(pinst) - {-1}
        else:
            assert _hostile(rows["d_ip"][out][0])
    for x in sl.labels:
        assert x.entity in uid and x.view in ("egress_peer", "ingress_peer")


def test_one_writer_per_kind():
    assert tuple(RCF_INJECTORS) == RCF_KINDS


# ---- a generated lake, with and without them -----------------------------------------------


def _generate(version: str, rcf: bool, root) -> tuple[LakeGenerator, list]:
    gen = LakeGenerator(
        GenerateOptions(
            days=1,
            start=DAY,
            seed=5,
            rows_per_day=24_000,
            accounts=2,
            instances_per_account=12,
            source_version=version,
            anomalies_per_kind=2,
            rcf_anomalies=rcf,
        )
    )
    objects = []
    for obj in gen.objects():
        path = root / obj.key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(parquet_bytes(obj.table))
        objects.append(obj)
    return gen, objects


@pytest.fixture(scope="module", params=["1.0", "2.0"])
def lakes(request, tmp_path_factory):
    version = request.param
    off = tmp_path_factory.mktemp(f"off{version}")
    on = tmp_path_factory.mktemp(f"on{version}")
    return version, (off, *_generate(version, False, off)), (on, *_generate(version, True, on))


def _features(version, root) -> dict:
    ctx = QueryContext(
        region="us-east-1",
        source_version=version,
        start=datetime(2026, 11, 5, tzinfo=UTC),
        end=datetime(2026, 11, 6, tzinfo=UTC),
    )
    table = DuckAthena(LakeLocation.open(str(root))).query(rf.sql(ctx), ctx)
    return {(r["instance"], r["hour_start"]): r for r in table.to_pylist()}


def _plain(labels) -> list[tuple]:
    return [(x.event_id, x.kind, x.entity, x.ip, x.view, x.time) for x in labels]


def test_the_other_kinds_are_the_same_with_or_without_them(lakes):
    _, (_, _, off), (_, _, on) = lakes
    assert [o.key for o in off] == [o.key for o in on]
    other = [x for o in on for x in o.labels if x.kind not in RCF_KINDS]
    assert sorted(_plain(other)) == sorted(_plain(x for o in off for x in o.labels))
    assert {x.kind for o in on for x in o.labels if x.kind in RCF_KINDS} == set(RCF_KINDS)
    changed = [a.key for a, b in zip(off, on, strict=True) if a.table.num_rows != b.table.num_rows]
    assert changed and all(o.source is Source.VPC_FLOW for o in on if o.key in changed)
    for a, b in zip(off, on, strict=True):
        if a.key not in changed:
            assert parquet_bytes(a.table) == parquet_bytes(b.table)


def test_their_rows_are_in_the_parquet_with_their_fields_and_in_the_truth(lakes):
    version, _, (root, _, objects) = lakes
    seen = defaultdict(set)
    for obj in objects:
        mine = [x for x in obj.labels if x.kind in RCF_KINDS]
        if not mine:
            continue
        table = pq.read_table(io.BytesIO((root / obj.key).read_bytes()))
        for x in mine:
            r = table.slice(x.row, 1).to_pylist()[0]
            outbound = r["connection_info"]["direction_id"] == 2
            side = r["src_endpoint" if outbound else "dst_endpoint"]
            other = r["dst_endpoint" if outbound else "src_endpoint"]
            assert side["instance_uid"] == x.entity and other["ip"] == x.ip and r["time"] == x.time
            assert r["metadata"]["version"] == ("1.1.0" if version == "2.0" else "1.0.0-rc.2")
            protocol = r["connection_info"]["protocol_num"]
            seen[x.kind].add(protocol)
            if x.kind == "rcf_admin_port":
                assert r["dst_endpoint"]["port"] in ADMIN_PORTS
                denied = r["action_id"] == 2 if version == "2.0" else r["disposition_id"] == 2
                assert not (denied and outbound)  # a refusal is the peer's
            elif x.kind == "rcf_new_protocol":
                assert protocol in (ICMP, GRE, ESP) and r["dst_endpoint"]["port"] == 0
            else:
                assert protocol == 6
    assert set(seen) == set(RCF_KINDS)
    labels = [x.__dict__ for o in objects for x in o.labels]
    truth = [t for t in rows_from_labels(labels) if t.kind in RCF_KINDS]
    assert {t.kind for t in truth} == set(RCF_KINDS)
    want = {(x["kind"], x["entity"], x["ip"]) for x in labels if x["kind"] in RCF_KINDS}
    assert {(t.kind, t.entity, t.address) for t in truth} == want
    assert all(t.entity.startswith("i-") and t.start_ms <= t.end_ms for t in truth)


def test_the_features_of_their_instance_hours(lakes):
    version, (off_root, _, _), (on_root, gen, objects) = lakes
    off, on = _features(version, off_root), _features(version, on_root)
    assert set(off) <= set(on)
    hours = defaultdict(lambda: defaultdict(int))  # (kind, instance, hour) -> labelled rows
    for obj in objects:
        for x in obj.labels:
            if x.kind in RCF_KINDS:
                hours[x.kind, x.entity, x.time - x.time % HOUR_MS][x.ip] += 1
    service = {i.uid: i.service for i in gen.world.instances}
    mean_out = defaultdict(list)
    for (instance, _), r in off.items():
        mean_out[instance].append(r["bytes_out"])
    checked = defaultdict(int)
    for (kind, instance, hour), per_peer in hours.items():
        key = (instance, hour)
        after, before = on[key], off.get(key, defaultdict(int))
        n = sum(per_peer.values())
        others = [k for k in hours if k[1:] == (instance, hour) and k[0] != kind]
        if others:  # two kinds in one instance-hour: only the totals add up
            continue
        checked[kind] += 1
        assert (
            after["flows_in"] + after["flows_out"] - before["flows_in"] - before["flows_out"] == n
        )
        if kind == "rcf_admin_port":
            admin = after["port_rdp"] + after["port_smb"] - before["port_rdp"] - before["port_smb"]
            assert admin == n
            if SERVICE_BY_NAME[service[instance]].tier != "public":  # none there before
                assert before["port_rdp"] == before["port_smb"] == 0 < admin
        elif kind == "rcf_new_protocol":
            assert before["icmp"] == before["other_proto"] == 0
            assert after["icmp"] + after["other_proto"] == n and after["tcp"] == before["tcp"]
        elif kind == "rcf_volume_spike":
            assert after["bytes_out"] - before["bytes_out"] >= 5 * np.mean(mean_out[instance])
            assert after["peers"] == before["peers"]  # a peer it already used that hour
        else:
            assert after["peers"] == before["peers"] + 1
            assert after["port_high"] - before["port_high"] == n >= 25
    assert set(checked) == set(RCF_KINDS)
