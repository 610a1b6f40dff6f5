"""extract.export: a pair set's key names its views (and IPv6) in one order, a day's prefix is
derived from it, the counts become kept and dropped rows with reasons, and publishing a
manifest is the atomic step that retires the parts of an earlier attempt; parts are read once
(a cache) and cut at a limit."""

from datetime import date

import pyarrow as pa
import pytest

from lakewatch.extract.export import (
    ExtractSummary,
    PairSet,
    day_prefix,
    publish,
    read_manifest,
    read_parts,
    summarize_counts,
)
from lakewatch.lake.sink import LocalStore


def test_pair_set_keys_are_canonical_and_round_trip():
    mixed = PairSet(("ingress_peer", "egress_peer"), include_ipv6=True)
    assert mixed.key == "egress_peer+ingress_peer+ipv6"
    assert PairSet.from_key(mixed.key) == PairSet(("egress_peer", "ingress_peer"), True)
    assert PairSet.from_key(PairSet().key).key == PairSet().key
    assert mixed.keep == ("ok", "ipv6") and PairSet().keep == ("ok",)
    with pytest.raises(ValueError, match="no_such_view"):
        PairSet(("no_such_view",))
    assert day_prefix("extracts/", "2.0", PairSet(("egress_peer",)), date(2026, 11, 5)) == (
        "extracts/source_version=2.0/pairs=egress_peer/day=2026-11-05/"
    )


def test_counts_become_kept_and_dropped_rows_with_reasons():
    counts = pa.table(
        {
            "view": ["egress_peer", "egress_peer", "egress_peer", "dns_answer"],
            "status": ["ok", "ipv6", "no_entity", "ok"],
            "rows": [100, 7, 3, 40],
            "entities": [5, 2, 0, 4],
        }
    )
    summary = ExtractSummary("2026-11-05", PairSet().key, "2.0", rows=140, entities=5)
    summarize_counts(counts, ("ok",), summary)
    assert summary.by_view == {
        "egress_peer": {"ok": 100, "ipv6": 7, "no_entity": 3},
        "dns_answer": {"ok": 40},
    }
    assert sum(summary.dropped.values()) == 10 and len(summary.dropped) == 2
    lines = summary.log_lines()
    assert lines[0].startswith("2026-11-05: 140 pairs kept, 5 entities")
    assert any(line.startswith("  dropped: ") for line in lines)
    assert summary.asset_metadata()["dropped"] == summary.dropped


def test_publishing_a_new_attempt_retires_the_old_parts(tmp_path):
    store = LocalStore(tmp_path)
    prefix = "extracts/day=2026-11-05/"
    assert read_manifest(store, prefix) is None
    for attempt in ("a", "b"):
        store.put(f"{prefix}attempt={attempt}/train.csv", b"i-1,10.0.0.1\n")
    first = ExtractSummary(
        "2026-11-05", "p", "2.0", parts={"train": [f"{prefix}attempt=a/train.csv"]}, attempt="a"
    )
    publish(store, prefix, first)
    assert read_manifest(store, prefix) == first
    publish(store, prefix, first)  # the same attempt again: its parts stay
    assert f"{prefix}attempt=a/train.csv" in set(store.list(prefix))
    second = ExtractSummary(
        "2026-11-05", "p", "2.0", parts={"train": [f"{prefix}attempt=b/train.csv"]}, attempt="b"
    )
    uri = publish(store, prefix, second)
    assert uri.endswith(f"{prefix}manifest.json")
    assert sorted(store.list(prefix)) == [f"{prefix}attempt=b/train.csv", f"{prefix}manifest.json"]
    assert read_manifest(store, prefix).attempt == "b"
    store.put(f"{prefix}manifest.json", b"{not json")
    with pytest.raises(ValueError):
        read_manifest(store, prefix)  # unreadable is not "absent"


def test_extract_parts_are_read_once_and_cut_at_the_limit(tmp_path):
    store = LocalStore(tmp_path)
    store.put("a.csv", b"i-1,10.0.0.1\ni-1,10.0.0.2\n,bad\n")
    store.put("b.csv", b"i-2,10.0.0.3\n")
    reads = []
    get = store.get
    store.get = lambda key: reads.append(key) or get(key)
    cache: dict = {}
    assert read_parts(store, ["a.csv", "b.csv"], limit=1, cache=cache) == [("i-1", "10.0.0.1")]
    assert read_parts(store, ["a.csv", "b.csv"], cache=cache) == [
        ("i-1", "10.0.0.1"),
        ("i-1", "10.0.0.2"),
        ("i-2", "10.0.0.3"),
    ]
    assert reads == ["a.csv", "b.csv"]  # a.csv came from the cache the second time


def test_a_pair_repeated_in_the_parts_is_held_once(tmp_path):
    store = LocalStore(tmp_path)
    store.put("a.csv", b"i-1,10.0.0.1\ni-1,10.0.0.1\ni-2,10.0.0.1\n")
    store.put("b.csv", b"i-1,10.0.0.1\n")
    got = read_parts(store, ["a.csv", "b.csv"])
    assert got == [("i-1", "10.0.0.1")] * 2 + [("i-2", "10.0.0.1"), ("i-1", "10.0.0.1")]
    assert got[0] is got[1] is got[3] and got[2] is not got[0]  # one tuple, 8 bytes a repeat
