"""The history: per-entity, peer-group and everyone prefix evidence, and its round trip."""

import numpy as np
import pytest
from safetensors.numpy import load, save

from lakewatch.model.encoding import entity_hashes, parse_addresses
from lakewatch.model.history import FEATURES, History, _group_cap, _shared_cap


def _history():
    # two services: a's instances share 10.1.x ranges, b's share 10.9.x; c is alone
    ents, ips = [], []
    for k in range(4):
        ents += [f"a{k}"] * 3
        ips += ["10.1.1.5", "10.1.2.5", f"10.1.{3 + k}.5"]
        ents += [f"b{k}"] * 2
        ips += ["10.9.1.5", f"10.9.{2 + k}.5"]
    ents += ["c", "c"]
    ips += ["8.8.8.8", "8.8.8.8"]
    return History.build(entity_hashes(ents), parse_addresses(ips), peers=3)


def _features(h, ent, ip):
    row = h.features(entity_hashes([ent]), parse_addresses([ip]))[0]
    return dict(zip(FEATURES, row.tolist(), strict=True))


def test_entity_counts_by_level():
    f = _features(_history(), "c", "8.8.8.8")
    assert f["entity_32"] == pytest.approx(np.log1p(2))
    assert f["entity_24"] == f["entity_16"] == f["entity_8"] == pytest.approx(np.log1p(2))
    g = _features(_history(), "c", "8.8.4.4")  # same /16, new /24
    assert g["entity_32"] == g["entity_24"] == 0 and g["entity_16"] == pytest.approx(np.log1p(2))


def test_peers_are_the_entities_sharing_ranges():
    h = _history()
    # a0 never used 10.1.4.x; its peers (other a instances) did
    sibling = _features(h, "a0", "10.1.4.7")
    foreign = _features(h, "a0", "10.9.3.7")  # b's range: lateral
    assert sibling["entity_24"] == 0 and foreign["entity_24"] == 0
    assert sibling["peers_24"] > 0.3
    assert foreign["peers_24"] == 0.0


def test_owned_says_whose_an_address_is():
    h = _history()
    mine = _features(h, "a0", "10.1.1.5")  # every a instance uses it: all in a0's group
    sibling = _features(h, "a0", "10.1.4.5")  # one sibling's address (a1's)
    foreign = _features(h, "a0", "10.9.1.5")  # b's: used by four entities, none of a0's group
    nobody = _features(h, "a0", "10.1.200.9")  # used by no one: no evidence either way
    assert foreign["owned_32"] == pytest.approx(1 / 6)  # (0 + 1) / (4 + 2): uniform prior
    assert nobody["owned_32"] == 0.5
    assert mine["owned_32"] == pytest.approx((4 + 1) / (4 + 2))  # room: a0 and its 3 peers
    assert sibling["owned_32"] == pytest.approx(2 / 3)  # its one user is a peer
    assert foreign["owned_32"] < nobody["owned_32"] < sibling["owned_32"] < mine["owned_32"]
    assert foreign["owned_24"] < 0.5 < mine["owned_24"]


def test_everyone_counts_distinct_entities_and_unknown_entities_get_no_evidence():
    h = _history()
    f = _features(h, "stranger", "10.1.1.5")
    assert f["everyone_32"] == pytest.approx(np.log1p(4))  # four a instances, counted once each
    assert f["entity_24"] == f["peers_24"] == f["entity_activity"] == 0
    assert not h.known(entity_hashes(["stranger"]))[0] and h.known(entity_hashes(["a1"]))[0]


def test_invalid_addresses_get_zero_evidence():
    row = _history().features(entity_hashes(["c"]), parse_addresses(["not-an-ip"]))[0]
    assert not row.any()


def test_round_trip_through_safetensors():
    h = _history()
    back = History.from_tensors(load(save(h.tensors())))
    query = (entity_hashes(["a0", "b2", "c"]), parse_addresses(["10.1.4.7", "10.9.1.5", "1.2.3.4"]))
    assert np.array_equal(h.features(*query), back.features(*query))


def test_ipv6_levels():
    ents = ["v"] * 3
    h = History.build(
        entity_hashes(ents), parse_addresses(["2600:1f18::1", "2600:1f18::2", "2600:1f18::1"])
    )
    f = _features(h, "v", "2600:1f18::9")  # same /64, new address
    assert f["entity_32"] == 0 and f["entity_24"] == pytest.approx(np.log1p(3))


def _named_history():
    ents, ips = [], []
    for k in range(4):
        ents += [f"a{k}"] * 3
        ips += ["10.1.1.5", "10.1.2.5", f"10.1.{3 + k}.5"]
        ents += [f"b{k}"] * 2
        ips += ["10.9.1.5", f"10.9.{2 + k}.5"]
    names: dict[str, int] = {}
    hashes = entity_hashes(ents, names)
    return History.build(hashes, parse_addresses(ips), peers=3, names=names)


def test_a_new_entity_stands_in_for_the_known_one_whose_networks_it_uses():
    h = _named_history()
    ents = ["new-a"] * 2 + ["new-b"] * 2 + ["loner", "a1"]
    ips = ["10.1.1.9", "10.1.2.9", "10.9.1.9", "10.9.3.9", "45.1.1.1", "10.1.1.5"]
    proxy, sim = h.stand_ins(entity_hashes(ents), parse_addresses(ips))
    rows = np.searchsorted(h.entities, proxy)
    named = [h.names.name(int(r)) if p else None for r, p in zip(rows, proxy, strict=True)]
    assert named[0] == named[1] and named[0].startswith("a")  # one stand-in per new entity
    assert named[2] == named[3] and named[2].startswith("b")
    assert named[4] is None and sim[4] == 0  # nobody's networks: no group to score it by
    assert named[5] is None  # a known entity is itself
    assert (sim[:4] >= 0.3).all()


def test_the_group_index_and_names_survive_the_round_trip_and_old_files_read_without():
    h = _named_history()
    tensors = h.tensors()
    back = History.from_tensors(
        load(save({k: np.ascontiguousarray(v) for k, v in tensors.items()}))
    )
    assert [back.names.name(i) for i in range(len(back.entities))] == [
        h.names.name(i) for i in range(len(h.entities))
    ]
    assert np.array_equal(back.groups.prefixes, h.groups.prefixes)
    old = {k: v for k, v in tensors.items() if not k.startswith(("groups.", "names."))}
    legacy = History.from_tensors(old)
    assert legacy.groups is None and legacy.names is None
    proxy, _ = legacy.stand_ins(entity_hashes(["new-a"]), parse_addresses(["10.1.1.9"]))
    assert proxy[0] == 0  # no index: every new entity stays unknown, as before


def test_peer_evidence_equals_looking_up_every_peer_slot():
    """``features`` looks a peer's pair up only where someone besides the entity used the
    prefix; the shares are those of looking up every slot."""
    from lakewatch.model.history import _lookup, pair_keys, prefix_keys

    rng = np.random.default_rng(3)
    who = rng.integers(0, 60, 3000)  # six groups of ten, each in its own /16
    ents = [f"e{k}" for k in who]
    b, c = rng.integers(0, 99, (2, 3000))
    ips = [f"10.{k % 6}.{j % 6}.{i % 90}" for k, j, i in zip(who, b, c, strict=True)]
    h = History.build(entity_hashes(ents), parse_addresses(ips), peers=4)
    q_ent = entity_hashes([f"e{k}" for k in rng.integers(0, 70, 2000)])
    q_ips = [f"10.{a % 7}.{b % 8}.{c % 95}" for a, b, c in rng.integers(0, 99, (2000, 3))]
    addrs = parse_addresses(q_ips)
    got = h.features(q_ent, addrs)
    pos, known = h._rows(q_ent)
    peers = h.peers[pos]
    weight = np.where(known[:, None], h.peer_weights[pos], 0.0)
    assert (got[:, 4:7] > 0).any()
    for col, level in ((4, 0), (5, 1), (6, 2)):
        query = pair_keys(peers.reshape(-1), np.repeat(prefix_keys(addrs, level), peers.shape[1]))
        used = _lookup(h.entity_keys[level], h.entity_counts[level], query).reshape(peers.shape)
        used = (used > 0) & (peers != 0) & known[:, None]
        want = (weight * used).sum(axis=1) / np.maximum(weight.sum(axis=1), 1e-9)
        assert np.array_equal(got[:, col], want.astype(np.float32)), col


def _plain_counts(ent, addrs, level):
    """The counts of one level as plainly as they can be had: every valid pair's key
    counted, and the distinct (entity, prefix) pairs counted per prefix."""
    from lakewatch.model.history import pair_keys, prefix_keys

    valid = addrs.valid
    ent, addrs = ent[valid], addrs.take(np.flatnonzero(valid))
    pk = prefix_keys(addrs, level)
    keys, counts = np.unique(pair_keys(ent, pk), return_counts=True)
    users, n = np.unique(np.unique(np.stack([ent, pk]), axis=1)[1], return_counts=True)
    return keys, counts, users, n


@pytest.mark.parametrize("block_rows", [16, 64, 700, 1 << 30])
def test_the_build_in_blocks_counts_as_plainly_counting_every_pair(block_rows):
    """Sorted a block of pairs at a time (``_PairBlocks``; at these sizes, blocks over
    their size too, counted in slices and merged), the counts are every pair's: repeated
    pairs, every level, IPv4 and IPv6, invalid addresses left out; and the whole history is
    the one built in one block."""
    rng = np.random.default_rng(11)
    n = 6000
    ents = [f"e{k}" for k in rng.integers(0, 40, n)]
    # a few hundred addresses, so pairs repeat, over shared /24s and /16s; some IPv6, some
    # invalid
    a, b, c = rng.integers(0, 3, n), rng.integers(0, 6, n), rng.integers(0, 20, n)
    ips = [f"10.{x}.{y}.{z}" for x, y, z in zip(a, b, c, strict=True)]
    for i in rng.choice(n, 900, replace=False):
        ips[i] = f"2600:1f18:{a[i]:x}:{b[i]:x}::{c[i]:x}"
    for i in rng.choice(n, 50, replace=False):
        ips[i] = "not-an-ip"
    hashes, addrs = entity_hashes(ents), parse_addresses(ips)
    assert (addrs.family == 6).sum() > 800 and (addrs.family == 0).sum() == 50
    h = History.build(hashes, addrs, peers=3, block_rows=block_rows)
    for level in range(4):
        keys, counts, users, n_users = _plain_counts(hashes, addrs, level)
        assert counts.max() > 1  # pairs do repeat
        assert np.array_equal(h.entity_keys[level], keys), level
        assert np.array_equal(h.entity_counts[level], counts), level
        assert np.array_equal(h.everyone_keys[level], users), level
        assert np.array_equal(h.everyone_counts[level], n_users), level
    valid = addrs.valid
    entities, activity = np.unique(hashes[valid], return_counts=True)
    assert np.array_equal(h.entities, entities) and np.array_equal(h.activity, activity)
    whole = History.build(hashes, addrs, peers=3).tensors()
    got = h.tensors()
    assert got.keys() == whole.keys()
    for name, value in whole.items():
        assert value.dtype == got[name].dtype and np.array_equal(got[name], value), name


def test_ipv4_upper_halves_held_as_one_zero_count_the_same():
    """``read_pairs`` holds IPv4-only pairs' upper halves as a view of one zero; the blocks
    take them so, and the history is the one of the same addresses held in full."""
    from lakewatch.model.encoding import Addresses

    rng = np.random.default_rng(5)
    ents = [f"e{k}" for k in rng.integers(0, 30, 4000)]
    ips = [f"10.{a}.{b}.{c}" for a, b, c in rng.integers(0, 8, (4000, 3))]
    hashes, addrs = entity_hashes(ents), parse_addresses(ips)
    zero = Addresses(addrs.family, np.broadcast_to(np.zeros(1, np.uint64), (4000,)), addrs.lo)
    whole = History.build(hashes, addrs, peers=3).tensors()
    for block_rows in (16, 500):
        got = History.build(hashes, zero, peers=3, block_rows=block_rows).tensors()
        for name, value in whole.items():
            assert np.array_equal(got[name], value), (block_rows, name)


def test_a_lookup_gives_each_query_its_own_value_whatever_their_order():
    """``_lookup`` searches the queries sorted and puts each answer back in its place:
    repeated, absent and unordered queries each get what a dictionary gives them."""
    from lakewatch.model.history import _lookup

    rng = np.random.default_rng(3)
    keys = np.unique(rng.integers(0, 2**63, 5_000, dtype=np.uint64))
    values = rng.integers(1, 1_000, keys.size).astype(np.uint32)
    absent = rng.integers(0, 2**63, 3_000, dtype=np.uint64)
    query = rng.permutation(np.r_[keys[rng.integers(0, keys.size, 7_000)], absent])
    table = dict(zip(keys.tolist(), values.tolist(), strict=True))
    expected = np.array([table.get(q, 0) for q in query.tolist()], np.uint32)
    found = _lookup(keys, values, query)
    assert found.dtype == values.dtype
    assert (found == expected).all() and (found == 0).sum() >= 1
    assert _lookup(keys[:0], values[:0], query).sum() == 0


def test_a_new_entity_finds_its_group_by_what_a_third_of_the_fleet_uses():
    """Three services of 30 instances each, each service's /24s used by all its instances (a
    third of the fleet, over the peer groups' 5% cap, as a churning fleet's shared
    dependencies are over a window): a new instance still finds a sibling; a /24 everyone
    uses says nothing."""
    ents, ips = [], []
    for s in range(3):
        for i in range(30):
            for r in range(4):
                ents += [f"s{s}-{i}"]
                ips += [f"10.{s}.{r}.{1 + (i + r) % 200}"]
            ents += [f"s{s}-{i}"]
            ips += [f"52.0.0.{1 + i}"]  # one /24 of all 90
    names: dict[str, int] = {}
    h = History.build(entity_hashes(ents, names), parse_addresses(ips), names=names)
    assert _shared_cap(0, h.entities) < 30 <= _group_cap(0, h.entities) < 90
    proxy, sim = h.stand_ins(
        entity_hashes(["new"] * 3 + ["stranger"]),
        parse_addresses(["10.2.0.77", "10.2.3.78", "52.0.0.99", "52.0.0.98"]),
    )
    row = int(np.searchsorted(h.entities, proxy[0]))
    assert h.names.name(row).startswith("s2-") and sim[0] >= 0.3
    assert proxy[3] == 0  # only the /24 everyone uses: no group
