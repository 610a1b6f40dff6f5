import numpy as np
import pytest

from lakewatch.model.encoding import (
    entity_hashes,
    entity_rows,
    format_addresses,
    ip_tokens,
    parse_addresses,
    random_addresses,
)


def test_entity_hash_is_stable_and_spreads():
    h = entity_hashes(["i-0abc", "i-0abc", " i-0abc ", "i-0abd"])
    assert h[0] == h[1] == h[2] != h[3]
    rows = entity_rows(entity_hashes([f"e{i}" for i in range(10_000)]), 100)
    counts = np.bincount(rows, minlength=100)
    assert counts.min() > 50 and counts.max() < 150  # roughly uniform buckets


def test_entity_hash_value_is_pinned():
    # a changed hash silently invalidates every saved model: pin one value
    assert format(int(entity_hashes(["i-0123456789abcdef0"])[0]), "016x") == "769f6cbef76fe3e4"
    assert format(int(entity_hashes(["lakewatch"])[0]), "016x") == _blake("lakewatch")


def _blake(text):
    import hashlib

    return format(
        int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little"), "016x"
    )


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("10.0.0.1", 4),
        ("255.255.255.255", 4),
        ("0.0.0.0", 4),
        (" 8.8.8.8 ", 4),
        ("2600:1f18::1", 6),
        ("::1", 6),
        ("256.0.0.1", 0),
        ("1.2.3", 0),
        ("01.2.3.4", 0),
        ("-", 0),
        ("", 0),
        ("host", 0),
        ("1.2.3.4.5", 0),
        ("2600:zz::1", 0),
    ],
)
def test_parse(text, family):
    assert parse_addresses([text]).family[0] == family


def test_ipv6_can_be_refused():
    assert parse_addresses(["2600::1"], allow_ipv6=False).family[0] == 0


def test_round_trip_format():
    texts = ["10.1.2.3", "2600:1f18:4000::1f"]
    assert format_addresses(parse_addresses(texts)) == texts


def test_tokens_share_prefixes():
    tok = ip_tokens(parse_addresses(["10.1.2.3", "10.200.2.99", "11.1.2.3"]), 1 << 20)
    assert tok.shape == (3, 2)  # /8 and /32
    assert tok[0, 0] == tok[1, 0] and tok[0, 1] != tok[1, 1]  # same /8, other address
    assert tok[0, 0] != tok[2, 0]  # different /8
    assert tok[0, 0] != tok[0, 1]  # levels do not collide with each other


def test_artifacts_of_another_encoding_are_refused(trained, tmp_path):
    """A model trained with other prefix levels would be scored wrongly: refuse it clearly."""
    import json
    import tarfile

    from lakewatch.model.artifact import ArtifactError, ModelArtifact

    art = ModelArtifact.load(trained[1])
    art.meta["encoding"]["ipv4_prefix_bits"] = [8, 16, 24, 32]
    out = art.save(tmp_path)
    with tarfile.open(out) as tar:
        meta = json.loads(tar.extractfile("model.json").read())
    assert meta["encoding"]["ipv4_prefix_bits"] == [8, 16, 24, 32]
    with pytest.raises(ArtifactError, match="retrain it"):
        ModelArtifact.load(tmp_path)


def test_ipv6_tokens_differ_from_ipv4():
    tok = ip_tokens(parse_addresses(["10.0.0.1", "::a00:1"]), 1 << 20)
    assert not set(tok[0]) & set(tok[1])


def test_random_addresses_follow_the_family():
    rng = np.random.default_rng(0)
    fam = np.array([4, 6] * 500, np.uint8)
    a = random_addresses(rng, 1000, fam)
    assert (a.family == fam).all()
    assert (a.lo[fam == 4] < 2**32).all()
    assert ((a.hi[fam == 6] >> np.uint64(61)) == 1).all()  # 2000::/3
    assert len(np.unique(a.lo[fam == 4])) > 490


def test_a_servers_entity_hash_cache_gives_the_same_hashes_and_stays_bounded():
    from lakewatch.model.encoding import EntityHashCache, entity_hashes

    cache = EntityHashCache(limit=3)
    first = ["i-1", "i-2", " i-1", "i-3"]
    assert cache.hashes(first).tolist() == entity_hashes(first).tolist()
    assert set(cache) == {"i-1", "i-2", "i-3"}  # trimmed, each distinct value once
    again = ["i-4", "i-1"]
    assert cache.hashes(again).tolist() == entity_hashes(again).tolist()
    assert set(cache) == {"i-4", "i-1"}  # full at the limit: emptied before the request


def test_concat_freeing_joins_and_empties_the_parts():
    import numpy as np

    from lakewatch.model.encoding import concat_freeing

    parts = [np.arange(3, dtype=np.int64), np.arange(2, dtype=np.int32)]
    out = concat_freeing(parts, np.int64)
    assert out.tolist() == [0, 1, 2, 0, 1] and out.dtype == np.int64 and parts == []
    one = np.arange(4, dtype=np.uint64)
    assert concat_freeing([one], np.uint64) is one  # one part of the dtype: not copied
    cast = concat_freeing([np.arange(2, dtype=np.int32)], np.uint64)
    assert cast.dtype == np.uint64 and cast.tolist() == [0, 1]
    assert concat_freeing([], np.uint32).size == 0
