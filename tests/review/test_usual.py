"""review.usual: beside a finding, what its entity usually does over the model's training
window: its most used /24s (IPv6 /64s), its peers by /24s shared (prefixes nearly everyone uses
say nothing and are left out), read once per model from the registry's training parts."""

from lakewatch.lake.sink import LocalStore
from lakewatch.model.registry import ModelRecord, Registry
from lakewatch.review.usual import UsualByModel, WindowIndex, prefix_of

PAIRS = [
    *[("i-1", "10.0.1.7")] * 5,
    ("i-1", "10.0.2.9"),
    ("i-1", "52.94.230.1"),
    ("i-2", "10.0.1.8"),
    ("i-2", "10.0.2.1"),
    ("i-3", "10.0.1.9"),
    ("i-1/in", "203.0.113.7"),
    ("i-1", "2001:db8:1:2::5"),
    ("i-1", "not-an-ip"),
]


def test_usual_prefixes_and_peers():
    index = WindowIndex(PAIRS)
    usual = index.usual("i-1")
    assert usual.pairs == 8  # the malformed address is not counted
    assert usual.prefixes[0] == ("10.0.1.0/24", 5)
    assert ("2001:db8:1:2::/64", 1) in usual.prefixes
    assert usual.peers == [("i-2", 2), ("i-3", 1)]  # i-2 shares two /24s, i-3 one
    assert index.usual("i-1/in").prefixes == [("203.0.113.0/24", 1)]  # inbound is its own view
    assert index.usual("i-9").pairs == 0 and index.usual("i-9").prefixes == []


def test_a_prefix_everyone_uses_makes_no_peers():
    pairs = [(f"i-{k}", "10.0.1.1") for k in range(60)] + [("i-0", "10.0.9.1"), ("i-7", "10.0.9.2")]
    assert WindowIndex(pairs, max_shared=50).usual("i-0").peers == [("i-7", 1)]


def test_prefix_of():
    assert prefix_of("192.0.2.77") == "192.0.2.0/24" and prefix_of("x") is None


def _registered(store: LocalStore, model_id: str) -> str:
    """A model whose registry record names one training part of PAIRS; returns the part."""
    part = f"models/training/{model_id}/part-0.csv"
    store.put(part, "".join(f"{e},{ip}\n" for e, ip in PAIRS).encode())
    Registry(store, "models/").register(
        ModelRecord(model_id, "x", "lakewatch", {}, {}, [], extra={"train_parts": [part]})
    )
    return part


def _counting_reads(store: LocalStore) -> list[str]:
    reads: list[str] = []
    get = store.get
    store.get = lambda key: reads.append(key) or get(key)
    return reads


def test_read_once_per_model_from_its_registry_record(tmp_path):
    store = LocalStore(tmp_path)
    part = _registered(store, "ipi-1")
    reads = _counting_reads(store)
    by_model = UsualByModel(store, "models/")
    assert by_model.usual("ipi-1", "i-1").prefixes[0] == ("10.0.1.0/24", 5)
    assert by_model.usual("ipi-1", "i-2").pairs == 2
    assert reads.count(part) == 1  # read once
    assert by_model.usual("ipi-unknown", "i-1") is None  # no record, no window
    assert UsualByModel(store, "models/", limit=3).usual("ipi-1", "i-1").pairs == 3  # bounded


def test_two_models_asked_in_turn_are_each_read_once(tmp_path):
    """A page ranks the network and sign-in models' findings together: alternating between
    them must not rebuild a window at every row; a third model evicts the least recent."""
    store = LocalStore(tmp_path)
    net, signin, third = (_registered(store, m) for m in ("ipi-net", "ipi-signin", "ipi-3"))
    reads = _counting_reads(store)
    by_model = UsualByModel(store, "models/", models=2)
    for _ in range(5):
        assert by_model.usual("ipi-net", "i-1").pairs == 8
        assert by_model.usual("ipi-signin", "i-2").pairs == 2
    assert reads.count(net) == 1 and reads.count(signin) == 1
    by_model.usual("ipi-3", "i-1")  # evicts ipi-net, the least recently asked
    by_model.usual("ipi-signin", "i-1")
    assert reads.count(signin) == 1 and reads.count(third) == 1
    by_model.usual("ipi-net", "i-1")
    assert reads.count(net) == 2
