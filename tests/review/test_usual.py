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


def test_read_once_per_model_from_its_registry_record(tmp_path):
    store = LocalStore(tmp_path)
    store.put(
        "models/training/ipi-1/part-0.csv", "".join(f"{e},{ip}\n" for e, ip in PAIRS).encode()
    )
    registry = Registry(store, "models/")
    registry.register(
        ModelRecord(
            "ipi-1",
            "x",
            "lakewatch",
            {},
            {},
            [],
            extra={"train_parts": ["models/training/ipi-1/part-0.csv"]},
        )
    )
    reads: list[str] = []
    get = store.get
    store.get = lambda key: reads.append(key) or get(key)
    by_model = UsualByModel(store, "models/")
    assert by_model.usual("ipi-1", "i-1").prefixes[0] == ("10.0.1.0/24", 5)
    assert by_model.usual("ipi-1", "i-2").pairs == 2
    assert reads.count("models/training/ipi-1/part-0.csv") == 1  # read once
    assert by_model.usual("ipi-unknown", "i-1") is None  # no record, no window
    assert UsualByModel(store, "models/", limit=3).usual("ipi-1", "i-1").pairs == 3  # bounded
