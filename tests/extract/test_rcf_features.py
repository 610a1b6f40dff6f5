"""The RCF features: rcf_features.sql on DuckDB over a generated lake (both source versions),
held to a direct count of the same objects, and their scaling."""

import json
import math
import shutil
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakewatch.extract import rcf_features as rf
from lakewatch.extract.engine import DuckAthena, LakeLocation
from lakewatch.extract.views import QueryContext
from lakewatch.lake.layout import Source
from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
from lakewatch.model.rcf.data import training_rows
from tests.rcf_hours import normal_hours

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 1, tzinfo=UTC)


def _ctx(version, start=START, end=datetime(2026, 11, 2, tzinfo=UTC)):
    return QueryContext(region="us-east-1", source_version=version, start=start, end=end)


@pytest.fixture(scope="module", params=["1.0", "2.0"])
def lake(request, tmp_path_factory):
    """A generated day of each source version, its objects written at their keys."""
    version = request.param
    gen = LakeGenerator(
        GenerateOptions(
            days=1, start=date(2026, 11, 1), rows_per_day=6000, seed=3, source_version=version
        )
    )
    root = tmp_path_factory.mktemp(f"rcf-lake{version}")
    objects = []
    for obj in gen.objects():
        path = root / obj.key
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(obj.table, path)
        objects.append(obj)
    return version, root, objects


def _query(version, root, dns=True):
    ctx = _ctx(version)
    return DuckAthena(LakeLocation.open(str(root))).query(rf.sql(ctx, dns=dns), ctx)


def _expected(objects, version):
    """The same aggregates counted in Python, record by record."""
    out: dict = defaultdict(lambda: defaultdict(int))
    ports, peers, domains = defaultdict(set), defaultdict(set), defaultdict(set)
    for obj in objects:
        if obj.source is Source.VPC_FLOW:
            for r in obj.table.to_pylist():
                direction = r["connection_info"]["direction_id"]
                side = {2: "src_endpoint", 1: "dst_endpoint"}.get(direction)
                instance = side and r[side]["instance_uid"]
                if instance in (None, "-", ""):
                    continue
                key = (instance, r["time"] - r["time"] % 3_600_000)
                row = out[key]
                way = "in" if direction == 1 else "out"
                row[f"flows_{way}"] += 1
                row[f"bytes_{way}"] += r["traffic"]["bytes"] or 0
                port = r["dst_endpoint"]["port"]
                row["port_rdp"] += port == 3389
                row["port_web"] += port in (80, 443)
                row["port_high"] += port is not None and port >= 1024 and port != 3389
                row["tcp"] += r["connection_info"]["protocol_num"] == 6
                verdict = r["action_id"] if version == "2.0" else r["disposition_id"]
                row["denied"] += verdict == 2
                ports[key].add(port)
                peer = r["dst_endpoint" if direction == 2 else "src_endpoint"]["ip"]
                if peer not in (None, "-", ""):
                    peers[key].add(peer)
        elif obj.source is Source.ROUTE53:
            for r in obj.table.to_pylist():
                instance = r["src_endpoint"]["instance_uid"]
                if instance in (None, "-", ""):
                    continue
                key = (instance, r["time"] - r["time"] % 3_600_000)
                out[key]["dns_queries"] += 1
                domains[key].add(r["query"]["hostname"])
    for key, row in out.items():
        row["dst_ports"] = len(ports[key] - {None})
        row["peers"] = len(peers[key])
        row["dns_domains"] = len(domains[key] - {None})
    return out


def test_one_row_per_instance_hour_matching_a_direct_count(lake):
    version, root, objects = lake
    rows = _query(version, root)
    assert sorted(rows.column_names) == sorted([*rf.KEY_COLUMNS, rf.SUBNET_COLUMN, *rf.RAW_COLUMNS])
    got = {(r["instance"], r["hour_start"]): r for r in rows.to_pylist()}
    assert len(got) == rows.num_rows > 100  # one row per (instance, hour)
    expected = _expected(objects, version)
    assert got.keys() == expected.keys()
    columns = [
        "flows_in",
        "flows_out",
        "bytes_in",
        "bytes_out",
        "port_rdp",
        "port_web",
        "port_high",
        "tcp",
        "denied",
        "dst_ports",
        "peers",
        "dns_queries",
        "dns_domains",
    ]
    for key, want in expected.items():
        row = got[key]
        assert {c: row[c] for c in columns} == {c: want[c] for c in columns}, key
        assert row["hour_of_day"] == datetime.fromtimestamp(key[1] / 1000, UTC).hour
    # the counts are not all trivially zero: the lake has denied flows, DNS, several classes
    for column in ("denied", "dns_queries", "port_web", "port_high", "tcp"):
        assert sum(r[column] for r in got.values()) > 0, column
    for r in got.values():  # the port classes and the portless flows partition the flows
        classed = sum(r[c] for c in rf.FLOW_COLUMNS if c.startswith("port_"))
        assert classed <= r["flows_in"] + r["flows_out"]
        assert r["tcp"] + r["udp"] + r["icmp"] + r["other_proto"] == r["flows_in"] + r["flows_out"]


def test_an_rdp_flow_shows_in_the_rdp_column(lake):
    version, root, objects = lake
    rows = _query(version, root)
    expected = _expected(objects, version)
    rdp = {key for key, want in expected.items() if want["port_rdp"]}
    assert rdp  # the lake's internet noise probes 3389
    matrix = rf.scale(rows)
    column = rf.feature_names().index("port_rdp")
    for i, r in enumerate(rows.to_pylist()):
        has = (r["instance"], r["hour_start"]) in rdp
        assert (r["port_rdp"] > 0) == has
        assert (matrix[i, column] > 0) == has


def test_without_route53(lake):
    version, root, _ = lake
    with_dns, without = _query(version, root), _query(version, root, dns=False)
    assert without.column_names == with_dns.column_names
    assert set(without["dns_queries"].to_pylist()) == {0}
    flows = list(rf.FLOW_COLUMNS)
    busy = with_dns.filter(
        pa.compute.greater(pa.compute.add(with_dns["flows_in"], with_dns["flows_out"]), 0)
    )
    assert busy.select(["instance", "hour_start", *flows]) == without.select(
        ["instance", "hour_start", *flows]
    )


def test_scaling_is_bounded(lake, tmp_path):
    version, root, _ = lake
    matrix = rf.scale(_query(version, root))
    assert matrix.shape[1] == len(rf.FEATURES) and np.isfinite(matrix).all()
    names = rf.feature_names()
    for i, feature in enumerate(rf.FEATURES):
        column = matrix[:, i]
        if feature.scaling is rf.Scaling.SHARE:
            assert ((column >= 0) & (column <= 1)).all(), feature.name
        elif feature.scaling is rf.Scaling.LOG1P:
            assert (column >= 0).all() and column.max() < 40, feature.name
    sin, cos = matrix[:, names.index("hour_sin")], matrix[:, names.index("hour_cos")]
    assert np.allclose(sin**2 + cos**2, 1)
    assert len(np.unique(np.round(np.arctan2(sin, cos), 6))) == 24
    csv = rf.write_csv(matrix, tmp_path / "features.csv")
    back = training_rows(csv.name, csv.read_bytes())
    assert back.shape == matrix.shape and np.allclose(back, matrix, rtol=1e-5, atol=1e-6)


def test_standardization(lake):
    version, root, _ = lake
    matrix = rf.scale(_query(version, root))
    z = rf.Standardization.fit(matrix)
    out = z.apply(matrix)
    assert np.allclose(out.mean(axis=0), 0, atol=1e-9)
    varying = matrix.std(axis=0) > 1e-9
    assert not varying.all()  # the lake has no UDP flows: a constant column stays finite
    assert np.allclose(out.std(axis=0)[varying], 1) and np.isfinite(out).all()
    assert rf.Standardization.from_dict(z.as_dict()) == z
    with pytest.raises(ValueError, match="other features"):
        rf.Standardization.from_dict(z.as_dict() | {"features": ["x"]})
    with pytest.raises(ValueError, match="standardized for"):
        z.apply(matrix[:, :3])


def _raw(**overrides):
    row = {c: 0 for c in rf.RAW_COLUMNS} | {"flows_in": 3, "flows_out": 1, "denied": 2}
    row |= overrides
    return pa.table({c: [v] for c, v in row.items()})


def test_scale_values():
    [row] = rf.scale(_raw(hour_of_day=6, bytes_out=999, tcp=4))
    got = dict(zip(rf.feature_names(), row, strict=True))
    assert got["flows_in"] == pytest.approx(math.log(4))
    assert got["bytes_out"] == pytest.approx(math.log(1000))
    assert got["denied_share"] == 0.5 and got["tcp_share"] == 1 and got["udp_share"] == 0
    assert got["hour_sin"] == pytest.approx(1) and got["hour_cos"] == pytest.approx(0, abs=1e-12)
    [quiet] = rf.scale(_raw(flows_in=0, flows_out=0, denied=0, dns_queries=5))
    assert dict(zip(rf.feature_names(), quiet, strict=True))["denied_share"] == 0


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (_raw().drop_columns(["port_rdp", "peers"]), "lack column(s) port_rdp, peers"),
        (_raw().set_column(0, "flows_in", pa.array([None], pa.int64())), "column flows_in"),
        (_raw(peers=-1), "column peers"),
        (_raw(hour_of_day=24), "column hour_of_day"),
        (_raw(tcp="6"), "column tcp is string"),
    ],
)
def test_scale_refuses_bad_rows(table, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        rf.scale(table)


def test_features_are_one_list():
    names = rf.feature_names()
    assert len(names) == len(set(names)) == len(rf.FEATURES)
    assert not any(n == "port" or n.endswith("_port") for n in names)  # no raw port numbers
    assert set(rf.RAW_COLUMNS) == {c for f in rf.FEATURES for c in f.raw_columns}
    for f in rf.FEATURES:
        assert (f.scaling is rf.Scaling.SHARE) == bool(f.denominator), f.name


def test_readme_lists_every_feature():
    readme = (REPO / "README.md").read_text()
    assert rf.markdown_table() in readme, "README's feature table: paste rf.markdown_table()"


def test_aws_samples_yield_rows(samples, tmp_path):
    from tests.conftest import SL_SAMPLES

    for folder in ("VPC_FLOW", "ROUTE53"):
        for i, path in enumerate(sorted((SL_SAMPLES / folder).glob("*.parquet"))):
            day = datetime.fromtimestamp(pq.read_table(path)["time"][0].as_py() / 1000, UTC)
            dest = (
                tmp_path / f"aws/{folder}/1.0/region=us-east-1/accountId=123456789012/"
                f"eventDay={day:%Y%m%d}/{i:032x}.gz.parquet"
            )
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, dest)
    ctx = _ctx("1.0", datetime(2021, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC))
    rows = DuckAthena(LakeLocation.open(str(tmp_path))).query(rf.sql(ctx), ctx)
    got = {r["instance"]: r for r in rows.to_pylist()}
    # VPC example0 is a blocked inbound flow to i-000..., examples 1 and 2 outbound from it;
    # example3 is NODATA ('-'): no row. Route 53's example3 is a query from i-0d15cd0d3example.
    flows = got["i-000000000000000000"]
    assert (flows["flows_in"], flows["flows_out"], flows["denied"]) == (1, 2, 1)
    assert (flows["bytes_in"], flows["bytes_out"], flows["peers"]) == (40, 100, 2)
    assert got["i-0d15cd0d3example"]["dns_queries"] == 1
    assert np.isfinite(rf.scale(rows)).all()


def _hour(table: pa.Table, row: int, **values) -> pa.Table:
    """``table``'s row ``row`` alone, with ``values`` for some raw columns."""
    data = table.slice(row, 1).to_pydict()
    for column, value in values.items():
        data[column] = [value]
    return pa.table(data, schema=table.schema)


def test_a_quiet_instances_empty_hour_no_longer_outscores_a_busy_instances_injected_hour():
    """The failure docs/rcf.md measured on the synthetic lake, on a small fixed set: one
    z-score of the fleet's absolute values makes a quiet instance's hour with no outbound
    flow (bytes out from thousands to 0, beyond any other hour's distance in log bytes)
    score above a busy instance's hour with 15 times its usual bytes out. The deviation
    from the instance's own usual hour floors less traffic at the usual, so the injected
    hour scores higher, and the empty one among the normal hours."""
    from lakewatch.model.rcf.forest import fit
    from lakewatch.model.rcf.hyperparameters import RcfHyperparameters

    rows = normal_hours(instances=5, hours=150, seed=0, levels=(6, 20, 40, 60, 80))
    held = normal_hours(instances=5, hours=48, seed=7, levels=(6, 20, 40, 60, 80))
    quiet, busy = 10, 4 * 48 + 10  # instance 0's 11th held-out hour, instance 4's
    data = held.to_pydict()
    empty = _hour(held, quiet, flows_out=0, bytes_out=0, port_web=0, port_dns=0, tcp=0, udp=0)
    empty = _hour(empty, 0, packets=5 * data["flows_in"][quiet], flows_in=data["flows_in"][quiet])
    spike = _hour(held, busy, bytes_out=15 * data["bytes_out"][busy])
    hp = RcfHyperparameters(feature_dim=len(rf.FEATURES), num_trees=100)
    scores = {}
    for transform in (rf.FLEET, rf.DEVIATION):
        profile = rf.FeatureProfile.fit(rows, transform=transform)
        forest = fit(profile.apply(rows), hp, seed=3)
        normal = forest.score(profile.apply(held))
        scores[transform] = (
            float(forest.score(profile.apply(empty))[0]),
            float(forest.score(profile.apply(spike))[0]),
            float(np.quantile(normal, 0.99)),
        )
    empty_old, spike_old, _ = scores[rf.FLEET]
    assert empty_old > spike_old  # the old behaviour: the empty hour first
    empty_new, spike_new, p99 = scores[rf.DEVIATION]
    assert spike_new > empty_new and spike_new > p99  # the injected hour first, and flagged
    assert empty_new < p99  # the empty hour is a normal one


def test_the_deviation_transform():
    rows = normal_hours(instances=3, hours=48, levels=(5, 20, 80))
    profile = rf.FeatureProfile.fit(rows)
    assert profile.transform == rf.DEVIATION
    names = rf.feature_names()
    i, h = names.index("bytes_out"), names.index("hour_sin")
    first = rows["instance"][0].as_py()
    # the usual hour of every instance is one row of the model, whatever its level
    usual = profile.usual_rows(sorted(profile.usual))
    counts = list(rf.COUNT_COLUMNS)
    assert np.allclose(usual[:, counts], usual[0, counts])
    # less traffic than usual is the usual; more counts in its instance's spreads
    quiet = _hour(rows, 0, bytes_out=0)
    loud = _hour(rows, 0, bytes_out=10**9)
    at_usual = profile.usual_rows([first])[0]
    assert profile.apply(quiet)[0, i] == pytest.approx(at_usual[i])
    assert profile.apply(loud)[0, i] > at_usual[i] + 5
    # the hour of day is not centred: its z-score over the fleet's hours
    assert profile.apply(rows)[:, h] == pytest.approx(
        rf.Standardization.fit(rf.scale(rows)).apply(rf.scale(rows))[:, h]
    )
    # an hour with no flow: its flow shares are the instance's usual, not 0
    empty = _hour(rows, 0, flows_in=0, flows_out=0, tcp=0, udp=0, port_web=0, port_dns=0)
    t = names.index("tcp_share")
    assert profile.apply(empty)[0, t] == pytest.approx(at_usual[t])
    # an instance the window never saw, or with too few hours: the fleet's median and spread
    few = normal_hours(instances=1, hours=5)
    mixed = pa.concat_tables([rows, few.set_column(0, "instance", pa.array(["i-few"] * 5))])
    profile2 = rf.FeatureProfile.fit(mixed)
    assert "i-few" not in profile2.spread and first in profile2.spread
    assert profile2.spread_of("i-few") == profile2.fleet_spread
    assert profile2.spread_of("i-new") == profile2.fleet_spread
    assert all(
        s >= rf.SPREAD_FLOOR * f - 1e-12
        for s, f in zip(profile2.spread[first], profile2.fleet_spread, strict=True)
    )
    new = _hour(rows, 0).set_column(0, "instance", pa.array(["i-new"]))
    assert np.isfinite(profile2.apply(new)).all()


def test_a_profile_saved_before_the_transform_still_loads_as_it_was_trained():
    rows = normal_hours(instances=3, hours=48)
    profile = rf.FeatureProfile.fit(rows)
    data = json.loads(json.dumps(profile.as_dict()))
    assert rf.FeatureProfile.from_dict(data) == profile
    assert data["transform"] == rf.DEVIATION and len(data["fleet_spread"]) == len(rf.FEATURES)
    assert len(data["floor"]) == len(rf.FEATURES)
    # an old features.json: no transform, no spreads; its model was trained on the fleet's
    # z-scores of the absolute values, so that is what it applies
    old = {k: v for k, v in rf.FeatureProfile.fit(rows, transform=rf.FLEET).as_dict().items()}
    for key in ("transform", "spread", "fleet_spread"):
        old.pop(key, None)
    loaded = rf.FeatureProfile.from_dict(old)
    assert loaded.transform == rf.FLEET
    z = rf.Standardization.fit(rf.scale(rows))
    assert np.allclose(loaded.apply(rows), z.apply(rf.scale(rows)))
    with pytest.raises(ValueError, match="transform 'rank' is not one this version applies"):
        rf.FeatureProfile.from_dict(data | {"transform": "rank"})
    with pytest.raises(ValueError, match="spreads or floor are not"):
        rf.FeatureProfile.from_dict(data | {"fleet_spread": [1.0]})
    with pytest.raises(ValueError, match="unknown transform"):
        rf.FeatureProfile.fit(rows, transform="rank")
    with pytest.raises(ValueError, match="lack column instance"):
        profile.apply(rows.drop_columns(["instance"]))


def test_each_row_has_its_interfaces_subnet(lake):
    """Outbound the instance's subnet is src_endpoint's, inbound dst_endpoint's; an hour of
    Route 53 queries and no flow names none."""
    version, root, objects = lake
    subnet_of = {}
    for obj in objects:
        if obj.source is not Source.VPC_FLOW:
            continue
        for r in obj.table.to_pylist():
            side = {2: "src_endpoint", 1: "dst_endpoint"}.get(r["connection_info"]["direction_id"])
            if side and r[side]["instance_uid"] not in (None, "-", ""):
                subnet_of.setdefault(r[side]["instance_uid"], set()).add(r[side]["subnet_uid"])
    rows = _query(version, root).to_pylist()
    flowing = [r for r in rows if r["flows_in"] + r["flows_out"]]
    assert len({r["subnet"] for r in flowing}) > 1
    for r in flowing:
        assert {r["subnet"]} == subnet_of[r["instance"]], r["instance"]
    assert all(r["subnet"] is None for r in rows if not r["flows_in"] + r["flows_out"])


def _in_subnets(rows: pa.Table, subnets: dict[int, str]) -> pa.Table:
    """``rows`` with a subnet column: instance number -> subnet (``normal_hours``' names)."""
    names = rows["instance"].to_pylist()
    return rows.append_column(
        rf.SUBNET_COLUMN, pa.array([subnets[int(n[2:], 16)] for n in names], pa.string())
    )


def test_an_unknown_instance_is_measured_against_its_subnets_usual_hour():
    """A new instance of a busy service (churn's replacement) scored as its subnet's instances
    are, where against the fleet's median its normal hour is a deviation; instances the window
    saw are as they were."""
    rows = _in_subnets(
        normal_hours(instances=4, hours=48, levels=(5, 6, 80, 90)),
        {0: "subnet-quiet", 1: "subnet-quiet", 2: "subnet-busy", 3: "subnet-busy"},
    )
    profile = rf.FeatureProfile.fit(rows)
    assert profile.subnets == {
        f"i-{i:017x}": s for i, s in enumerate(["subnet-quiet"] * 2 + ["subnet-busy"] * 2)
    }
    assert (
        sorted(profile.subnet_usual)
        == sorted(profile.subnet_spread)
        == [
            "subnet-busy",
            "subnet-quiet",
        ]
    )
    i = rf.feature_names().index("flows_out")
    busy, quiet = (
        profile.usual_of("i-new", "subnet-busy"),
        profile.usual_of("i-new", "subnet-quiet"),
    )
    assert busy[i] > profile.overall[i] > quiet[i]
    assert profile.usual_of("i-new", "subnet-elsewhere") == profile.overall
    assert profile.usual_of("i-new") == profile.overall
    assert profile.spread_of("i-new", "subnet-busy") == profile.subnet_spread["subnet-busy"]
    # known instances: the same rows with or without the column
    assert np.array_equal(profile.apply(rows), profile.apply(rows.drop_columns(["subnet"])))
    # a busy instance's normal hour, under a new id in its subnet: near that instance's own row
    hour = _hour(rows, 2 * 48 + 5).set_column(0, "instance", pa.array(["i-new"]))
    own = profile.apply(_hour(rows, 2 * 48 + 5))[0]
    in_subnet = profile.apply(hour)[0]
    fleet = profile.apply(hour.drop_columns(["subnet"]))[0]
    assert np.linalg.norm(in_subnet - own) < np.linalg.norm(fleet - own) / 2
    # saved and read back; a profile saved before subnets reads with none (the fleet's)
    data = json.loads(json.dumps(profile.as_dict()))
    assert rf.FeatureProfile.from_dict(data) == profile
    old = rf.FeatureProfile.from_dict(
        {k: v for k, v in data.items() if k not in ("subnets", "subnet_usual", "subnet_spread")}
    )
    assert old.usual_of("i-new", "subnet-busy") == profile.overall
    assert np.allclose(old.apply(hour), fleet)
    with pytest.raises(ValueError, match="spreads or floor are not"):
        rf.FeatureProfile.from_dict(data | {"subnet_usual": {"subnet-busy": [1.0]}})


def test_rows_without_any_subnet_give_a_profile_without_subnets():
    rows = normal_hours(instances=3, hours=30)
    unnamed = rows.append_column(rf.SUBNET_COLUMN, pa.nulls(rows.num_rows, pa.string()))
    profile = rf.FeatureProfile.fit(unnamed)
    assert profile.subnets == profile.subnet_usual == {}
    assert profile == rf.FeatureProfile.fit(rows)
