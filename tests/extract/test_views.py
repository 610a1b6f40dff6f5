"""Each pair view's SQL, rendered for Athena and run on DuckDB."""

import shutil
from datetime import UTC, date, datetime

import pyarrow.parquet as pq
import pytest

from lakewatch.extract.engine import DuckAthena, LakeLocation
from lakewatch.extract.views import VIEWS, QueryContext, render
from lakewatch.lake.sink import LocalStore
from lakewatch.lake.synthetic import GenerateOptions
from lakewatch.lake.write import read_labels, write_lake

ALL = tuple(VIEWS)


def _ctx(version, start, end, views=ALL, keep=("ok", "ipv6")):
    return QueryContext(
        region="us-east-1", source_version=version, start=start, end=end, views=views, keep=keep
    )


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y%m%d")


@pytest.fixture(scope="module")
def aws_sample_lake(samples, tmp_path_factory):
    """AWS's own 1.0 Parquet samples, placed at the keys Security Lake would give them."""
    from tests.conftest import SL_SAMPLES

    root = tmp_path_factory.mktemp("sample-lake")
    for source, folder in (("VPC_FLOW", "VPC_FLOW"), ("ROUTE53", "ROUTE53")):
        for i, path in enumerate(sorted((SL_SAMPLES / folder).glob("*.parquet"))):
            day = _day(pq.read_table(path)["time"][0].as_py())
            dest = (
                root / f"aws/{source}/1.0/region=us-east-1/accountId=123456789012/"
                f"eventDay={day}/{i:032x}.gz.parquet"
            )
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, dest)
    return root


def _run(root, version, template, **kw):
    ctx = _ctx(version, datetime(2021, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC), **kw)
    return DuckAthena(LakeLocation.open(str(root))).query(render(template, ctx), ctx)


def test_views_on_aws_samples(aws_sample_lake):
    rows = _run(aws_sample_lake, "1.0", "pairs.sql").to_pylist()
    got = {(r["view"], r["entity"], r["ip"], r["status"]) for r in rows}
    # VPC example0 is inbound to i-000..., examples 1 and 2 outbound from it; example3 is a
    # NODATA record (no direction, '-' everywhere): counted as dropped, never a pair
    assert ("ingress_peer", "i-000000000000000000/in", "1.2.3.4", "ok") in got
    assert ("egress_peer", "i-000000000000000000", "172.31.2.52", "ok") in got
    assert ("seed", "i-000000000000000000", "1.2.3.4", "ok") in got
    assert ("seed", "-", "-", "dash") in got
    # Route 53: only example3 comes from an instance; its PTR answer is not an address pair
    assert ("seed", "i-0d15cd0d3example", "4.5.64.102", "ok") in got
    assert not [r for r in rows if r["view"] == "dns_answer"]


def test_seed_view_is_the_blogs_pairs(aws_sample_lake):
    rows = _run(aws_sample_lake, "1.0", "extract.sql", views=("seed",), keep=("ok",))
    assert sorted(set(zip(rows["entity"].to_pylist(), rows["ip"].to_pylist(), strict=True))) == [
        ("i-000000000000000000", "1.2.3.4"),
        ("i-0d15cd0d3example", "4.5.64.102"),
    ]


def test_interval_prunes_partitions(aws_sample_lake):
    ctx = _ctx("1.0", datetime(2022, 4, 12, tzinfo=UTC), datetime(2022, 4, 13, tzinfo=UTC))
    loc = LakeLocation.open(str(aws_sample_lake))
    from lakewatch.lake.layout import Source

    objects = loc.objects(Source.VPC_FLOW, "1.0", "us-east-1", ctx.days())
    assert len(objects) == 3 and all("eventDay=20220412" in p for p in objects)
    assert loc.objects(Source.VPC_FLOW, "1.0", "us-east-1", ["20220413"]) == []
    rows = DuckAthena(loc).query(render("pairs.sql", ctx), ctx).to_pylist()
    assert {r["view"] for r in rows} == {"seed", "egress_peer", "ingress_peer"}  # no DNS that day


@pytest.fixture(scope="module", params=["1.0", "2.0"])
def generated(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"lake{request.param}")
    write_lake(
        GenerateOptions(
            days=2, start=date(2026, 11, 1), rows_per_day=8000, seed=3, source_version=request.param
        ),
        LocalStore(root),
    )
    return request.param, root


def test_injected_anomalies_are_extracted(generated):
    version, root = generated
    ctx = _ctx(
        version,
        datetime(2026, 11, 2, tzinfo=UTC),
        datetime(2026, 11, 3, tzinfo=UTC),
        views=("egress_peer", "ingress_peer", "dns_answer"),
        keep=("ok",),
    )
    rows = DuckAthena(LakeLocation.open(str(root))).query(render("extract.sql", ctx), ctx)
    pairs = set(zip(rows["entity"].to_pylist(), rows["ip"].to_pylist(), strict=True))
    labels = [lb for lb in read_labels(LocalStore(root), day="20261102")]
    assert labels
    for lb in labels:
        entity = lb["entity"] + ("/in" if lb["view"] == "ingress_peer" else "")
        assert (entity, lb["ip"]) in pairs, lb
    splits = rows["split"].to_pylist()
    assert 0.05 < splits.count("validation") / len(splits) < 0.15


def test_interval_bounds_are_exact(generated):
    version, root = generated
    engine = DuckAthena(LakeLocation.open(str(root)))

    def count(start, end):
        ctx = _ctx(version, start, end, views=("seed",))
        return engine.query(render("pairs.sql", ctx), ctx).num_rows

    hour = count(datetime(2026, 11, 1, 6, tzinfo=UTC), datetime(2026, 11, 1, 7, tzinfo=UTC))
    day = count(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    both = count(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
    assert 0 < hour < day / 10
    assert day < both


def test_empty_interval_gives_no_rows(generated):
    version, root = generated
    ctx = _ctx(version, datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC))
    assert (
        DuckAthena(LakeLocation.open(str(root))).query(render("counts.sql", ctx), ctx).num_rows == 0
    )


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"views": ("nope",)}, "unknown pair view"),
        ({"keep": ("good",)}, "unknown pair status"),
        ({"source_version": "3.0"}, "source version"),
    ],
)
def test_bad_context(kw, message):
    args = {
        "region": "us-east-1",
        "source_version": "2.0",
        "start": datetime(2026, 1, 1),
        "end": datetime(2026, 1, 2),
        **kw,
    }
    with pytest.raises(ValueError, match=message):
        QueryContext(**args)


def test_both_flow_views_read_the_vpc_table_once_and_give_each_views_rows(generated):
    """egress_peer with ingress_peer is one scan (flow_peers): exactly the rows of the two
    views rendered alone, with the same split keys and event times."""
    version, root = generated
    engine = DuckAthena(LakeLocation.open(str(root)))
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)

    def rows(views):
        ctx = _ctx(version, start, end, views=views)
        sql = render("pairs.sql", ctx)
        return sql, sorted(tuple(r.values()) for r in engine.query(sql, ctx).to_pylist())

    both_sql, both = rows(("egress_peer", "ingress_peer"))
    assert both_sql.count("vpc_flow") == 1  # one FROM of the VPC Flow table
    _, egress = rows(("egress_peer",))
    _, ingress = rows(("ingress_peer",))
    assert egress and ingress
    assert both == sorted(egress + ingress)
    assert {r[2] for r in both} == {"egress_peer", "ingress_peer"}


def test_a_dns_answers_unnest_runs_on_duckdb_as_a_select_list_unnest():
    """DuckDB runs Trino's ``CROSS JOIN UNNEST`` as a lateral join, row by row; translate
    turns the plain shape into a select-list UNNEST with the same rows, and leaves a shape
    it cannot rewrite as it was."""
    import duckdb

    from lakewatch.extract.engine import translate

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE dns AS SELECT * FROM (VALUES "
        "('i-1', [{'type': 'A', 'rdata': '1.2.3.4'}, {'type': 'CNAME', 'rdata': 'x.'}, "
        "{'type': 'A', 'rdata': '5.6.7.8'}], 1), ('i-2', [], 2), (NULL, "
        "[{'type': 'A', 'rdata': '9.9.9.9'}], 3), ('i-3', [{'type': 'AAAA', 'rdata': '::1'}], 4)"
        ") AS t(instance, answers, n)"
    )
    trino = (
        "SELECT instance AS entity, answer.ip AS ip FROM db.dns "
        "CROSS JOIN UNNEST(transform(filter(answers, a -> a.type IN ('A', 'AAAA')), "
        "a -> a.rdata)) AS answer(ip) WHERE instance IS NOT NULL{}"
    )
    plain = translate(trino.format(""), {"db.dns": "dns"})
    assert "CROSS JOIN" not in plain.upper() and "UNNEST(" in plain.upper()
    assert sorted(con.sql(plain).fetchall()) == [
        ("i-1", "1.2.3.4"),
        ("i-1", "5.6.7.8"),
        ("i-3", "::1"),
    ]
    # a WHERE on the unnested column needs the join: left alone, still right
    kept = translate(trino.format(" AND answer.ip <> '5.6.7.8'"), {"db.dns": "dns"})
    assert "CROSS JOIN" in kept.upper()
    assert sorted(con.sql(kept).fetchall()) == [("i-1", "1.2.3.4"), ("i-3", "::1")]


def test_the_deployments_views_come_from_the_setting():
    from lakewatch.extract.views import DEFAULT_VIEWS, configured_views

    assert configured_views("") == DEFAULT_VIEWS
    assert configured_views("egress_peer, signin") == ("egress_peer", "signin")
    with pytest.raises(ValueError, match="unknown pair view"):
        configured_views("egress_peer,nope")
