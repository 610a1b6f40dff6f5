"""lake.synthetic.churn: instances replaced day by day by new ids with the same behaviour.

Without churn the lake is the lake it was; with it about the share asked is replaced each day,
a replaced instance keeps its service's traffic under its new instance and ENI ids everywhere
its id appears (flows, Route 53, Security Hub, labels, truth), and a lake written in pieces is
the lake written at once."""

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta

import pyarrow.compute as pc
import pytest

from lakewatch.lake.layout import Source
from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
from lakewatch.lake.synthetic.churn import LOOK_BACK, Churn
from lakewatch.lake.synthetic.world import World
from lakewatch.lake.write import parquet_bytes

START = date(2026, 11, 1)
# A small lake's content as the generator wrote it before churn and CloudTrail existed: both
# are off by default and must leave it as it was. Change only on purpose.
BEFORE = {
    "1.0": "d2fa57db2f659681ca3ad4d612b70df306fd298ee022d9d8277ea7fcb09501f3",
    "2.0": "ccbd929b7245ebca98e359e2b93e0930affbc981c6597c483e9ce0aee579b1f0",
}


def _options(**kw) -> GenerateOptions:
    base = dict(days=2, start=START, seed=5, rows_per_day=2000, accounts=1, instances_per_account=8)
    return GenerateOptions(**(base | kw))


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_without_churn_the_lake_is_the_lake_it_was(version):
    h = hashlib.sha256()
    for o in LakeGenerator(_options(source_version=version, churn=0.0)).objects():
        h.update(o.key.encode())
        h.update(json.dumps(o.table.to_pylist(), default=str, sort_keys=True).encode())
        h.update(json.dumps([asdict(label) for label in o.labels], sort_keys=True).encode())
    assert h.hexdigest() == BEFORE[version]


def test_about_the_share_asked_is_replaced_each_day_in_every_service():
    world = World(4, 4, 50, "us-east-1")
    churn = Churn(GenerateOptions(seed=4, churn=0.2, accounts=4, instances_per_account=50), world)
    days = [START + timedelta(days=d) for d in range(30)]
    replaced = [churn.replaced(d) for d in days]
    share = sum(r.sum() for r in replaced) / (len(days) * len(world.instances))
    assert 0.18 < share < 0.22  # 6,000 draws: three standard deviations is 0.015
    by_service, of = Counter(), Counter()
    for r in replaced:
        for i in world.instances:
            by_service[i.service] += bool(r[i.index])
            of[i.service] += 1
    assert all(0.13 < by_service[s] / of[s] < 0.27 for s in of), (by_service, of)
    assert 0.1 < replaced[3].mean() < 0.3  # any one day too (200 draws)


def test_an_id_is_its_last_replacements_and_looks_like_aws():
    world = World(4, 1, 20, "us-east-1")
    churn = Churn(GenerateOptions(seed=4, churn=0.3, accounts=1, instances_per_account=20), world)
    for d in range(1, 10):
        day = START + timedelta(days=d)
        today, yesterday, drawn = (
            churn.ids(day),
            churn.ids(day - timedelta(days=1)),
            churn.replaced(day),
        )
        for i in range(len(world.instances)):
            if drawn[i]:
                assert today.since[i] == day and today.uids[i] != yesterday.uids[i]
                assert today.enis[i] != yesterday.enis[i]
            else:
                assert (today.uids[i], today.enis[i]) == (yesterday.uids[i], yesterday.enis[i])
            assert re.fullmatch(r"i-[0-9a-f]{17}", today.uids[i])
            assert re.fullmatch(r"eni-[0-9a-f]{17}", today.enis[i])
    assert LOOK_BACK >= 30
    none = Churn(GenerateOptions(seed=4, accounts=1, instances_per_account=20), world).ids(START)
    assert none.uids == tuple(i.uid for i in world.instances) and set(none.since) == {None}


def test_the_generator_says_which_instances_are_new():
    gen = LakeGenerator(_options(churn=0.25, instances_per_account=20))
    day = START + timedelta(days=3)
    new = gen.new_instances(day)
    assert new and all(first <= day for first in new.values())
    assert {gen.instance_uid(i.index, day) for i in gen.world.instances} >= set(new)
    assert sum(first == day for first in new.values()) == gen.churn.replaced(day).sum()
    assert LakeGenerator(_options()).new_instances(day) == {}


@pytest.fixture(scope="module")
def churned():
    gen = LakeGenerator(
        _options(churn=0.5, rows_per_day=6000, accounts=2, instances_per_account=10)
    )
    return gen, list(gen.objects())


def test_a_replaced_instance_does_what_its_service_does_under_its_new_ids(churned):
    gen, objs = churned
    for o in objs:
        ids = gen.churn.ids(o.day)
        index = {uid: k for k, uid in enumerate(ids.uids)}
        if o.source is Source.VPC_FLOW:
            for col in ("src_endpoint", "dst_endpoint"):
                for ep in o.table[col].to_pylist():
                    uid = ep["instance_uid"]
                    if uid in (None, "-"):
                        continue
                    inst = gen.world.instances[index[uid]]  # an id in use that day
                    assert ep["interface_uid"] == ids.enis[inst.index]
                    assert ep["subnet_uid"] == inst.subnet_uid
                    assert ep["ip"] in (inst.ip, inst.ipv6)
            labelled = {label.row for label in o.labels}
            peers = defaultdict(set)
            for row, r in enumerate(o.table.select(["src_endpoint", "dst_endpoint"]).to_pylist()):
                uid = r["src_endpoint"]["instance_uid"]
                if uid in index and row not in labelled:
                    peers[index[uid]].add(r["dst_endpoint"]["ip"])
            for k, addresses in peers.items():  # only the service's own peers
                allowed = {a for a, _, _ in gen.world.peers[k]}
                allowed |= {x for v in gen.world.vendors.values() for x in v.ipv6}
                assert addresses <= allowed, (gen.world.instances[k].service, addresses - allowed)
        elif o.source is Source.ROUTE53:
            used = set(
                pc.struct_field(o.table["src_endpoint"], "instance_uid").drop_null().to_pylist()
            )
            assert used <= set(ids.uids)
        elif o.source is Source.SH_FINDINGS:
            for resources in o.table["resources"].to_pylist():
                for r in resources:
                    if r["type"] == "AwsEc2Instance":
                        assert r["uid"] in set(ids.uids)
    replaced_days = {o.day for o in objs if gen.churn.replaced(o.day).any()}
    assert replaced_days, "some instance was replaced on a generated day"


def test_labels_and_truth_name_the_days_id(churned, tmp_path):
    gen, objs = churned
    for o in objs:
        uids = set(gen.churn.ids(o.day).uids)
        assert all(label.entity.removesuffix("/in") in uids for label in o.labels)
    from lakewatch.lake.sink import LocalStore
    from lakewatch.lake.truth import rows_from_labels
    from lakewatch.lake.write import read_labels, write_lake

    store = LocalStore(tmp_path)
    write_lake(gen.options, store)
    rows = rows_from_labels(read_labels(store))
    days = [START + timedelta(days=d) for d in range(2)]
    in_use = {day: set(gen.churn.ids(day).uids) for day in days}
    assert rows
    for row in rows:
        day = datetime.fromtimestamp(row.start_ms / 1000, UTC).date()
        assert row.entity.removesuffix("/in") in in_use[day], row
    world = json.loads((tmp_path / "lakewatch-ground-truth/world.json").read_text())
    assert world["churn"] == 0.5
    for day, ids in world["instance_ids"].items():
        when = date(int(day[:4]), int(day[4:6]), int(day[6:]))
        assert [x["uid"] for x in ids] == list(gen.churn.ids(when).uids)


def test_a_lake_written_in_pieces_is_the_lake_written_at_once():
    whole = list(LakeGenerator(_options(days=4, churn=0.2)).objects())
    pieces = [
        *LakeGenerator(_options(days=1, churn=0.2)).objects(),
        *LakeGenerator(_options(days=3, start=START + timedelta(days=1), churn=0.2)).objects(),
    ]
    assert [o.key for o in whole] == [o.key for o in pieces]
    assert all(
        parquet_bytes(a.table) == parquet_bytes(b.table) for a, b in zip(whole, pieces, strict=True)
    )
    assert [o.labels for o in whole] == [o.labels for o in pieces]


def test_bad_churn():
    with pytest.raises(ValueError, match="churn"):
        GenerateOptions(churn=1.5)
