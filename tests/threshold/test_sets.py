"""threshold.sets: the normal and abnormal sets recalibration scores: kinds as claimed, unknown
entities left out, small sets refused, a fresh day's share of seen pairs, analysts' labels."""

import ipaddress

import pytest

from lakewatch.threshold.choose import evaluate
from lakewatch.threshold.sets import SetsTooSmall, build_sets, random_public

NORMAL = [(f"i-{i % 20}", f"10.16.{i % 3}.{i % 200}") for i in range(1000)]


def test_abnormal_kinds_are_what_they_claim():
    observed = set(NORMAL)
    sets = build_sets(
        NORMAL, {f"i-{i}" for i in range(20)}, observed, seed=3, max_normal=500, max_abnormal=300
    )
    assert len(sets.normal) == 500 and set(sets.normal) <= set(NORMAL)
    assert all(ipaddress.ip_address(a).is_global for _, a in sets.abnormal["random_public"])
    used = {ipaddress.ip_address(a).packed[:3] for _, a in NORMAL}
    for _, a in sets.abnormal["unused_subnet"]:
        ip = ipaddress.ip_address(a)
        assert ip in ipaddress.ip_network("10.0.0.0/8") and ip.packed[:3] not in used
    for e, a in sets.abnormal["shuffled"]:
        assert (e, a) not in observed and a in {x for _, x in NORMAL}
    again = build_sets(
        NORMAL, {f"i-{i}" for i in range(20)}, observed, seed=3, max_normal=500, max_abnormal=300
    )
    assert again.abnormal == sets.abnormal  # deterministic for the night


def test_unknown_entities_are_left_out_and_small_sets_refused():
    # i-1 has 50 rows, 30 distinct pairs
    with pytest.raises(SetsTooSmall, match="30 normal pairs of known entities"):
        build_sets(NORMAL, {"i-1"}, set(NORMAL), seed=1, min_normal=200)


def test_a_chatty_pair_is_one_normal_pair():
    """A new pair with a thousand flows is one pair the scorer could flag, not a thousand."""
    chatty = [("i-1", "45.110.185.181")] * 1000
    sets = build_sets(NORMAL + chatty, {f"i-{i}" for i in range(20)}, set(NORMAL), seed=2)
    assert sets.normal.count(("i-1", "45.110.185.181")) == 1
    assert len(sets.normal) == len(set(NORMAL)) + 1


def test_random_public_skips_reserved_space():
    import numpy as np

    ips = random_public(np.random.default_rng(0), 5000)
    assert all(ipaddress.ip_address(a).is_global for a in ips)


def test_a_held_out_split_is_matched_to_a_fresh_days_share_of_seen_pairs():
    from lakewatch.threshold.sets import build_sets

    seen = {(f"i-{k % 10}", f"10.0.0.{k}") for k in range(300)}
    held_out = sorted(seen) + [(f"i-{k % 10}", f"10.9.0.{k}") for k in range(100)]
    entities = {f"i-{k}" for k in range(10)}
    sets = build_sets(held_out, entities, seen, seed=1, min_normal=50, seen_share=0.5)
    in_seen = sum(1 for p in sets.normal if p in seen)
    assert len(sets.normal) == 200 and in_seen == 100  # all 100 new, 100 of the 300 seen
    assert "kept 100 of 300" in " ".join(sets.notes)
    plain = build_sets(held_out, entities, seen, seed=1, min_normal=50)
    assert len(plain.normal) == 400  # no share given: every pair
    more = build_sets(held_out, entities, seen, seed=1, min_normal=50, seen_share=0.9)
    assert len(more.normal) == 400  # never more seen pairs than there are


def test_analysts_labels_move_pairs_between_the_normal_and_abnormal_sets():
    """A labelled attack leaves the normal set (it would pull the threshold under itself) and
    is scored as ``analyst_true_positive``; a labelled false positive joins the normal set."""
    import numpy as np

    entities = {f"i-{i}" for i in range(20)}
    attack, benign = NORMAL[7], ("i-3", "45.1.1.1")
    sets = build_sets(
        NORMAL,
        entities,
        set(NORMAL),
        seed=4,
        false_positives=[benign, ("i-unknown", "45.2.2.2")],
        true_positives=[attack],
    )
    assert attack not in sets.normal and sets.abnormal["analyst_true_positive"] == [attack]
    assert benign in sets.normal and sets.labelled_false_positive == [benign]
    assert ("i-unknown", "45.2.2.2") not in sets.normal  # the model cannot score it
    assert "1 false-positive pairs added" in sets.notes[-1]
    rng = np.random.default_rng(0)
    ev = evaluate(
        rng.normal(2, 1, 600),
        {"random_public": rng.normal(-2, 1, 300), "analyst_true_positive": np.array([-3.0])},
        0.01,
        0.01,
    )
    assert ev.chosen.recall_by_kind["analyst_true_positive"] == 1.0
