"""scoring.rcf_rows: an object's RCF feature rows are the training extract's rows of the
hours it holds whole (same SQL, same numbers), partial hours are marked, Route 53's columns
take the instance's usual values, and what is not a VPC Flow object is poison."""

import io
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from lakewatch.extract import rcf_features as rf
from lakewatch.extract.engine import DuckAthena, LakeLocation
from lakewatch.extract.views import QueryContext
from lakewatch.lake.layout import Source, parse_key
from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
from lakewatch.scoring.errors import PoisonMessage
from lakewatch.scoring.rcf_rows import object_feature_rows, with_usual
from tests.rcf_hours import normal_hours


@pytest.fixture(scope="module", params=["1.0", "2.0"])
def lake(request, tmp_path_factory):
    version = request.param
    gen = LakeGenerator(
        GenerateOptions(
            days=1, start=date(2026, 11, 1), rows_per_day=6000, seed=5, source_version=version
        )
    )
    root = tmp_path_factory.mktemp(f"rcf-rows{version}")
    objects = []
    for obj in gen.objects():
        path = root / obj.key
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(obj.table, path)
        objects.append(obj)
    ctx = QueryContext(
        region="us-east-1",
        source_version=version,
        start=datetime(2026, 11, 1, tzinfo=UTC),
        end=datetime(2026, 11, 2, tzinfo=UTC),
    )
    day = DuckAthena(LakeLocation.open(str(root))).query(rf.sql(ctx, dns=False), ctx)
    return version, objects, day


def _bytes(table):
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def _keyed(table):
    return {
        (r["instance"], r["hour_start"]): tuple(r[c] for c in rf.RAW_COLUMNS)
        for r in table.to_pylist()
    }


def test_whole_hours_match_the_training_extract(lake):
    _, objects, day = lake
    expected = _keyed(day)
    seen, partial = 0, 0
    for obj in objects:
        if obj.source is not Source.VPC_FLOW:
            continue
        rows = object_feature_rows(_bytes(obj.table), parse_key(obj.key), "us-east-1")
        assert rows.column_names == [*day.column_names, "complete"]
        whole = rows.filter(rows["complete"])
        partial += rows.num_rows - whole.num_rows
        for k, v in _keyed(whole).items():
            assert expected[k] == v, k
            seen += 1
        rf.scale(rows)  # the scaling the model's rows get takes them as they are
    assert seen > 50  # most of the day's instance-hours are whole in one object
    assert seen + partial >= len(expected)


def test_an_object_that_starts_inside_an_hour_marks_it_partial(lake):
    _, objects, _ = lake
    obj = next(o for o in objects if o.source is Source.VPC_FLOW)
    times = obj.table["time"].to_numpy()
    first_hour = int(times.min()) - int(times.min()) % 3_600_000
    late = obj.table.filter(pc.greater_equal(obj.table["time"], first_hour + 1_800_000))
    rows = object_feature_rows(_bytes(late), parse_key(obj.key), "us-east-1")
    hours = dict(zip(rows["hour_start"].to_pylist(), rows["complete"].to_pylist(), strict=True))
    assert hours[first_hour] is False
    assert any(hours.values()) or len(hours) == 1


def test_route53_objects_and_other_schemas_are_poison(lake):
    _, objects, _ = lake
    dns = next(o for o in objects if o.source is Source.ROUTE53)
    with pytest.raises(PoisonMessage, match="VPC Flow objects only"):
        object_feature_rows(_bytes(dns.table), parse_key(dns.key), "us-east-1")
    vpc = next(o for o in objects if o.source is Source.VPC_FLOW)
    with pytest.raises(PoisonMessage, match="lacks"):
        object_feature_rows(
            _bytes(vpc.table.drop_columns(["traffic"])), parse_key(vpc.key), "us-east-1"
        )
    with pytest.raises(PoisonMessage, match="cannot read as Parquet"):
        object_feature_rows(b"not parquet", parse_key(vpc.key), "us-east-1")


def test_route53_columns_take_the_instances_usual_values():
    train = normal_hours(instances=2, hours=48)
    profile = rf.FeatureProfile.fit(train)
    names = sorted(set(train["instance"].to_pylist()))
    rows = pa.table(
        {
            "instance": [names[0], "i-unseen"],
            "hour_start": [0, 0],
            **{c: [0, 0] for c in rf.RAW_COLUMNS},
        }
    )
    filled = with_usual(rows, profile)
    mine = train.filter(pc.equal(train["instance"], names[0]))
    median = np.median(mine["dns_queries"].to_numpy())
    assert filled["dns_queries"][0].as_py() == pytest.approx(median, abs=1)
    overall = np.median(train["dns_queries"].to_numpy())
    assert filled["dns_queries"][1].as_py() == pytest.approx(overall, abs=1)
    assert filled["flows_out"].to_pylist() == [0, 0]  # only Route 53's columns


def test_its_duckdb_is_capped_and_spills_as_the_pair_counts_do(lake, monkeypatch):
    """The feature rows' query runs on the pair counts' connection: at most
    ``pairs.AGGREGATE_MEMORY`` held, the rest spilled to a scratch folder; a limit it cannot
    work in is the function's memory, not the object: retried, never poison."""
    from contextlib import contextmanager

    from lakewatch.scoring import pairs, rcf_rows
    from lakewatch.scoring.errors import TransientError

    _, objects, _ = lake
    obj = next(o for o in objects if o.source is Source.VPC_FLOW)
    body, key = _bytes(obj.table), parse_key(obj.key)
    settings = []

    @contextmanager
    def spied(prefix):
        with pairs.capped_duckdb(prefix) as con:
            settings.append(
                con.execute(
                    "SELECT current_setting('memory_limit'), current_setting('temp_directory'), "
                    "current_setting('threads')"
                ).fetchall()[0]
            )
            yield con

    monkeypatch.setattr(rcf_rows, "capped_duckdb", spied)
    whole = object_feature_rows(body, key, "us-east-1")
    limit, scratch, threads = settings[0]
    assert limit == duckdb_limit(pairs.AGGREGATE_MEMORY) and threads == 1
    assert "lakewatch-rcf-rows-" in scratch
    monkeypatch.setattr(pairs, "AGGREGATE_MEMORY", "32MB")
    assert object_feature_rows(body, key, "us-east-1").equals(whole)
    assert settings[-1][0] == duckdb_limit("32MB")
    monkeypatch.setattr(pairs, "AGGREGATE_MEMORY", "1MB")
    with pytest.raises(TransientError, match=r"RCF feature rows need more than DuckDB's 1MB"):
        object_feature_rows(body, key, "us-east-1")


def duckdb_limit(setting: str) -> str:
    """DuckDB's own spelling of a memory limit (``192MB`` reads back as ``183.1 MiB``)."""
    import duckdb

    con = duckdb.connect(config={"memory_limit": setting})
    try:
        return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    finally:
        con.close()


def test_route53_columns_of_a_new_instance_take_its_subnets_usual_values():
    train = normal_hours(instances=2, hours=48, levels=(5, 80))
    names = sorted(set(train["instance"].to_pylist()))
    train = train.append_column(
        "subnet",
        pa.array(
            ["subnet-a" if n == names[0] else "subnet-b" for n in train["instance"].to_pylist()]
        ),
    )
    busy = pc.equal(train["subnet"], "subnet-b")  # its queries ten times the other's
    queries = pc.if_else(busy, pc.multiply(train["dns_queries"], 10), train["dns_queries"])
    train = train.set_column(train.column_names.index("dns_queries"), "dns_queries", queries)
    profile = rf.FeatureProfile.fit(train)
    rows = pa.table(
        {
            "instance": ["i-unseen", "i-unseen"],
            "hour_start": [0, 0],
            **{c: [0, 0] for c in rf.RAW_COLUMNS},
            "subnet": ["subnet-b", None],
        }
    )
    filled = with_usual(rows, profile)
    at = rf.feature_names().index("dns_queries")
    theirs = rf.raw_value(rf.FEATURES[at], profile.subnet_usual["subnet-b"][at])
    fleet = rf.raw_value(rf.FEATURES[at], profile.overall[at])
    assert filled["dns_queries"].to_pylist() == [round(theirs), round(fleet)]
    assert filled["dns_queries"][0].as_py() > 2 * filled["dns_queries"][1].as_py()
