"""lake.synthetic.generator: the whole lake, object by object: deterministic for a seed, keyed
by origin when asked, Security Lake keys and schemas, valid OCSF, VPC and DNS semantics,
labels that point at their rows, and the rows per day it was asked for."""

import ipaddress
from collections import Counter, defaultdict
from datetime import date, timedelta

import pyarrow.compute as pc
import pytest

from lakewatch.lake.layout import OCSF_VERSION, Source, parse_key
from lakewatch.lake.schemas import schema_for
from lakewatch.lake.synthetic import ANOMALY_KINDS, GenerateOptions, LakeGenerator
from lakewatch.lake.synthetic.world import HOSTILE_RANGES
from lakewatch.lake.validate import validate_table
from lakewatch.lake.write import parquet_bytes

START = date(2026, 11, 1)


def _lake(version="2.0", days=2, rows=12_000, seed=3):
    gen = LakeGenerator(
        GenerateOptions(
            days=days, start=START, seed=seed, rows_per_day=rows, source_version=version
        )
    )
    return gen, list(gen.objects())


@pytest.fixture(scope="module", params=["1.0", "2.0"])
def lake(request):
    return request.param, *_lake(request.param)


def test_same_seed_same_bytes_other_seed_other_bytes():
    _, a = _lake(days=1, rows=2_000, seed=11)
    _, b = _lake(days=1, rows=2_000, seed=11)
    _, c = _lake(days=1, rows=2_000, seed=12)
    assert [o.key for o in a] == [o.key for o in b]
    assert all(parquet_bytes(x.table) == parquet_bytes(y.table) for x, y in zip(a, b, strict=True))
    assert parquet_bytes(a[0].table) != parquet_bytes(c[0].table)


def test_a_lake_keyed_by_origin_is_the_same_lake_whatever_the_dates():
    """The demo writes the days before today from its start: its data must not depend on
    the date it runs (only the timestamps and keys move)."""

    def endpoints(origin: date | None, start: date = START) -> list[list]:
        gen = LakeGenerator(
            GenerateOptions(days=1, start=start, seed=5, rows_per_day=1_000, origin=origin)
        )
        return [
            o.table.select([c for c in o.table.column_names if c.endswith("endpoint")]).to_pylist()
            for o in gen.objects()
        ]

    later = date(2027, 3, 9)
    assert endpoints(START) == endpoints(later, later)
    assert endpoints(None) != endpoints(START)


def test_sign_ins_keyed_by_origin_keep_their_week_whatever_weekday_it_is():
    """People sign in on working days: with an origin the week is counted from it, so the
    demo's CloudTrail (and the model trained on it) is the same on a Tuesday as on a
    Saturday; without one it follows the calendar."""

    def signins(origin: date | None, day: date) -> list[list]:
        options = GenerateOptions(
            days=1, start=day, seed=5, rows_per_day=20_000, origin=origin, cloudtrail=True
        )
        return [
            o.table.select(["src_endpoint"]).to_pylist()
            for o in LakeGenerator(options).objects()
            if o.source is Source.CLOUD_TRAIL_MGMT
        ]

    tuesday, saturday = date(2026, 12, 8), date(2026, 12, 12)
    assert signins(tuesday, tuesday) == signins(saturday, saturday)
    assert signins(None, tuesday) != signins(None, saturday)
    # the origin counts as a Tuesday (the demo's live day, six days on, a Monday)
    week = [GenerateOptions(origin=saturday).is_weekday(saturday + timedelta(d)) for d in range(7)]
    assert week == [True, True, True, True, False, False, True]


def test_keys_and_schemas(lake):
    version, _gen, objs = lake
    assert len(objs) >= 2 * 2 * 3  # days x sources x accounts, several slices each
    for o in objs:
        parsed = parse_key(o.key)
        assert parsed is not None and parsed.version == version
        assert parsed.source == o.source.value and parsed.account_id == o.account_id
        assert o.table.schema.equals(schema_for(o.source, version))
        times = o.table["time"].to_numpy()
        assert (times[1:] >= times[:-1]).all(), "rows are in time order"


def test_records_validate_against_ocsf(lake):
    version, _, objs = lake
    for o in objs[:6]:
        assert validate_table(o.table, OCSF_VERSION[version]) == []


def test_vpc_semantics(lake):
    _version, _, objs = lake
    vpc = [o.table for o in objs if o.source is Source.VPC_FLOW]
    rows = [
        r
        for t in vpc
        for r in t.select(
            ["src_endpoint", "dst_endpoint", "connection_info", "status_code", "disposition"]
        ).to_pylist()
    ]
    seen = Counter()
    for r in rows:
        s, d, ci = r["src_endpoint"], r["dst_endpoint"], r["connection_info"]
        if r["status_code"] in ("NODATA", "SKIPDATA"):
            seen["nodata"] += 1
            assert s["ip"] == "-" and d["ip"] == "-" and s["instance_uid"] == "-"
            continue
        if ci["direction"] == "Outbound":
            assert s["interface_uid"] and d["interface_uid"] is None and d["instance_uid"] is None
        else:
            assert d["interface_uid"] and s["interface_uid"] is None and s["instance_uid"] is None
        if "-" in (s["instance_uid"], d["instance_uid"]):
            seen["dash"] += 1
        if ci["protocol_ver"] == "IPv6":
            seen["ipv6"] += 1
            assert ipaddress.ip_address(s["ip"]).version == 6
        if r["disposition"] == "Blocked":
            seen["reject"] += 1
        seen[ci["direction"]] += 1
    for kind in ("nodata", "dash", "ipv6", "reject", "Inbound", "Outbound"):
        assert seen[kind] > 0, kind


def test_dns_semantics(lake):
    _, _, objs = lake
    rows = [
        r
        for o in objs
        if o.source is Source.ROUTE53
        for r in o.table.select(
            ["src_endpoint", "query", "answers", "dst_endpoint", "rcode"]
        ).to_pylist()
    ]
    assert all(r["query"]["hostname"].endswith(".") for r in rows)
    resolver = [r for r in rows if r["dst_endpoint"]["instance_uid"]]
    assert resolver and all(
        r["dst_endpoint"]["instance_uid"].startswith("rslvr-in-")
        and r["src_endpoint"]["instance_uid"] is None
        for r in resolver
    )
    assert any(r["rcode"] == "NXDomain" and not r["answers"] for r in rows)
    assert any(a["type"] == "AAAA" for r in rows for a in r["answers"] or [])
    answered = [r for r in rows if r["answers"]]
    assert all(ipaddress.ip_address(a["rdata"]) for r in answered for a in r["answers"])


def _pair(table, row, view):
    r = table.slice(row, 1).to_pylist()[0]
    if view == "egress_peer":
        return r["src_endpoint"]["instance_uid"], [r["dst_endpoint"]["ip"]]
    if view == "ingress_peer":
        return r["dst_endpoint"]["instance_uid"], [r["src_endpoint"]["ip"]]
    return r["src_endpoint"]["instance_uid"], [a["rdata"] for a in r["answers"]]


def test_labels_point_at_their_rows(lake):
    _, _, objs = lake
    kinds_by_day = defaultdict(set)
    for o in objs:
        for label in o.labels:
            assert label.key == o.key
            entity, ips = _pair(o.table, label.row, label.view)
            assert entity == label.entity and label.ip in ips, label
            kinds_by_day[o.day].add(label.kind)
    assert all(kinds == set(ANOMALY_KINDS) for kinds in kinds_by_day.values())


def test_hostile_addresses_appear_only_in_labelled_rows(lake):
    _, _, objs = lake
    hostile = [ipaddress.ip_network(r) for r in HOSTILE_RANGES]
    for o in objs:
        if o.source is not Source.VPC_FLOW:
            continue
        labelled = {label.row for label in o.labels}
        for col in ("src_endpoint", "dst_endpoint"):
            ips = pc.struct_field(o.table[col], "ip").to_pylist()
            for row, ip in enumerate(ips):
                if (
                    ip
                    and ip != "-"
                    and ":" not in ip
                    and any(ipaddress.ip_address(ip) in n for n in hostile)
                ):
                    assert row in labelled, (o.key, row, ip)


def test_tomorrow_includes_addresses_siblings_used_today():
    gen, objs = _lake(days=2, rows=40_000)
    used = defaultdict(set)  # (day, instance) -> peers
    for o in objs:
        if o.source is Source.VPC_FLOW:
            t = o.table.select(["src_endpoint", "dst_endpoint"]).to_pylist()
            for r in t:
                if r["src_endpoint"]["instance_uid"] not in (None, "-"):
                    used[(o.day, r["src_endpoint"]["instance_uid"])].add(r["dst_endpoint"]["ip"])
    service = {i.uid: i.service for i in gen.world.instances}
    account = {i.uid: i.account for i in gen.world.instances}
    days = sorted({d for d, _ in used})
    hits = 0
    for (day, uid), peers in used.items():
        if day != days[1]:
            continue
        own = used.get((days[0], uid), set())
        siblings = set().union(
            *[
                p
                for (d, u), p in used.items()
                if d == days[0]
                and u != uid
                and service[u] == service[uid]
                and account[u] == account[uid]
            ]
        )
        hits += len((peers - own) & siblings)
    assert hits > 50


def test_rows_per_day_is_roughly_honoured():
    _, objs = _lake(days=1, rows=30_000)
    total = sum(o.table.num_rows for o in objs)
    assert 0.8 * 30_000 < total < 1.2 * 30_000


def test_bad_options():
    with pytest.raises(ValueError, match="source-version"):
        GenerateOptions(source_version="3.0")
    with pytest.raises(ValueError, match="days"):
        GenerateOptions(days=0)
