"""scoring.pairs: a lake object read into (entity, address) pairs per view, in batches, with each
instance's own addresses; corrupt or foreign objects are poison."""

from datetime import date

import pytest

from lakewatch.extract.export import PairSet
from lakewatch.lake.layout import Source, parse_key
from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
from lakewatch.lake.write import parquet_bytes
from lakewatch.scoring.errors import PoisonMessage
from lakewatch.scoring.pairs import object_pairs


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_object_pairs_match_the_labels(version):
    gen = LakeGenerator(
        GenerateOptions(
            days=1, start=date(2026, 11, 1), rows_per_day=6000, seed=2, source_version=version
        )
    )
    for obj in gen.objects():
        if obj.source is not Source.VPC_FLOW or not obj.labels:
            continue
        out = object_pairs(parquet_bytes(obj.table), parse_key(obj.key), PairSet(), "us-east-1")
        assert out.rows == obj.table.num_rows
        got = set(zip(out.pairs["entity"].to_pylist(), out.pairs["ip"].to_pylist(), strict=True))
        for label in obj.labels:
            entity = label.entity + ("/in" if label.view == "ingress_peer" else "")
            assert (entity, label.ip) in got
        statuses = set(out.pairs["status"].to_pylist())
        assert "ok" in statuses
        return
    pytest.fail("no VPC object with labels")


def test_a_flow_object_names_each_instances_own_addresses(monkeypatch):
    """Each instance's own address, from the flow ends its ENI logged, across batches."""
    from lakewatch.scoring import pairs as pairs_module

    gen = LakeGenerator(GenerateOptions(days=1, start=date(2026, 11, 1), rows_per_day=6000, seed=3))
    obj = next(o for o in gen.objects() if o.source is Source.VPC_FLOW)
    monkeypatch.setattr(pairs_module, "BATCH_ROWS", 97)
    out = object_pairs(parquet_bytes(obj.table), parse_key(obj.key), PairSet(), "us-east-1")
    ip_of = {i.uid: i.ip for i in gen.world.instances}
    mine = out.own_addresses
    assert len(mine) >= 10
    for instance, ips in mine.items():
        if instance in ip_of:  # instances (NAT and Lambda ENIs name no instance: '-')
            assert ip_of[instance] in ips
        assert "-" not in ips


def test_endpoints_of_the_wrong_type_are_poison_and_name_no_instance():
    """Found by the handler's fuzzing: a string where the endpoint struct should be."""
    import pyarrow as pa

    from lakewatch.scoring.pairs import own_addresses

    gen = LakeGenerator(GenerateOptions(days=1, start=date(2026, 11, 1), rows_per_day=6000, seed=3))
    obj = next(o for o in gen.objects() if o.source is Source.VPC_FLOW)
    i = obj.table.schema.get_field_index("src_endpoint")
    broken = obj.table.set_column(i, "src_endpoint", pa.array(["x"] * obj.table.num_rows))
    assert own_addresses(broken.select(["src_endpoint"])) == set()
    with pytest.raises(PoisonMessage, match=obj.key):
        object_pairs(parquet_bytes(broken), parse_key(obj.key), PairSet(), "us-east-1")


def test_an_object_read_in_small_batches_gives_the_same_pairs_and_counts(monkeypatch):
    from lakewatch.scoring import pairs as pairs_module

    gen = LakeGenerator(GenerateOptions(days=1, start=date(2026, 11, 1), rows_per_day=6000, seed=3))
    obj = next(o for o in gen.objects() if o.source is Source.VPC_FLOW)
    body, key = parquet_bytes(obj.table), parse_key(obj.key)
    whole = object_pairs(body, key, PairSet(), "us-east-1").pairs
    monkeypatch.setattr(pairs_module, "BATCH_ROWS", 97)  # many batches, pairs split across them
    batched = object_pairs(body, key, PairSet(), "us-east-1").pairs

    def rows(t):
        return sorted(tuple(r.values()) for r in t.to_pylist())

    assert whole.num_rows > 100 and rows(batched) == rows(whole)
    assert sum(whole["event_time_count"].to_pylist()) >= obj.table.num_rows // 2


def test_real_sample_object(samples):
    from tests.conftest import SL_SAMPLES

    body = (SL_SAMPLES / "VPC_FLOW/example1.gz.parquet").read_bytes()
    key = parse_key(
        "aws/VPC_FLOW/1.0/region=us-east-2/accountId=123456789012/eventDay=20220412/x.gz.parquet"
    )
    out = object_pairs(body, key, PairSet(("egress_peer",)), "us-east-1")
    assert out.pairs.select(["entity", "ip", "view", "status"]).to_pylist() == [
        {
            "entity": "i-000000000000000000",
            "ip": "172.31.2.52",
            "view": "egress_peer",
            "status": "ok",
        }
    ]


def test_corrupt_and_foreign_objects_are_poison(samples):
    key = parse_key(
        "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261101/x.gz.parquet"
    )
    with pytest.raises(PoisonMessage, match="cannot read as Parquet"):
        object_pairs(b"PAR1 this is not parquet", key, PairSet(), "us-east-1")
    from tests.conftest import SAMPLES

    other = (SAMPLES / "ocsf__examples/use-cases/spark/data/pwSpray.parquet").read_bytes()
    with pytest.raises(PoisonMessage, match="schema lacks"):
        object_pairs(other, key, PairSet(), "us-east-1")


def _busy_object(rows: int = 6000):
    gen = LakeGenerator(GenerateOptions(days=1, start=date(2026, 11, 1), rows_per_day=rows, seed=3))
    obj = next(o for o in gen.objects() if o.source is Source.VPC_FLOW)
    return parquet_bytes(obj.table), parse_key(obj.key)


def test_only_the_scored_statuses_are_held_and_the_others_counted():
    body, key = _busy_object()
    out = object_pairs(body, key, PairSet(), "us-east-1")
    assert set(out.pairs["status"].to_pylist()) <= set(PairSet().keep)
    assert out.dropped and not set(out.dropped) & set(PairSet().keep)
    with_ipv6 = object_pairs(body, key, PairSet(include_ipv6=True), "us-east-1")
    # the same records, counted once whichever statuses are scored
    assert out.candidates == with_ipv6.candidates
    assert with_ipv6.pairs.num_rows > out.pairs.num_rows
    assert out.dropped["ipv6"] == sum(
        n
        for n, s in zip(
            with_ipv6.pairs["event_time_count"].to_pylist(),
            with_ipv6.pairs["status"].to_pylist(),
            strict=True,
        )
        if s == "ipv6"
    )


def test_the_entities_views_and_statuses_are_held_once_each():
    import pyarrow as pa

    body, key = _busy_object()
    pairs = object_pairs(body, key, PairSet(), "us-east-1").pairs
    for name in ("entity", "view", "status"):
        assert pa.types.is_dictionary(pairs.schema.field(name).type)
        first = pairs[name].chunks[0].dictionary
        assert all(c.dictionary.equals(first) for c in pairs[name].chunks)
        assert len(first) == len(set(first.to_pylist())) < pairs.num_rows
    assert pa.types.is_string(pairs.schema.field("ip").type)


def test_a_smaller_aggregation_memory_gives_the_same_pairs_and_too_small_is_retried(monkeypatch):
    """DuckDB holds at most ``AGGREGATE_MEMORY`` of the counts and spills the rest; a limit it
    cannot work in is the function's memory, not the object: retried, never poison."""
    from lakewatch.scoring import pairs as pairs_module
    from lakewatch.scoring.errors import TransientError

    body, key = _busy_object(200_000)
    whole = object_pairs(body, key, PairSet(), "us-east-1").pairs

    def rows(t):
        return sorted(tuple(r.values()) for r in t.to_pylist())

    monkeypatch.setattr(pairs_module, "AGGREGATE_MEMORY", "8MB")
    assert rows(object_pairs(body, key, PairSet(), "us-east-1").pairs) == rows(whole)
    monkeypatch.setattr(pairs_module, "AGGREGATE_MEMORY", "1MB")
    with pytest.raises(TransientError, match=r"counting its pairs needs more than DuckDB's 1MB"):
        object_pairs(body, key, PairSet(), "us-east-1")
