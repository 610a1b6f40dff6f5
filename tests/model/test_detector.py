"""The detector: a monotone combination of the dot product and the history, saved safely."""

import numpy as np
import pytest

from lakewatch.model import detector as det
from lakewatch.model.data import pairs_from_lists
from lakewatch.model.detector import COLUMNS, Detector, DetectorError, monotone_logistic
from lakewatch.model.encoding import entity_hashes, parse_addresses


def _fleet(seed=0, services=6, per=5):
    """Instances of a service share its /24s; each saw only some of them."""
    rng = np.random.default_rng(seed)
    ents, ips = [], []
    for s in range(services):
        ranges = [f"10.{s}.{r}" for r in range(6)]
        for i in range(per):
            seen = [r for r in ranges if rng.random() < 0.6] or ranges[:1]
            for _ in range(60):
                ents.append(f"i-{s}-{i}")
                ips.append(f"{seen[rng.integers(0, len(seen))]}.{rng.integers(1, 20)}")
    return ents, ips


def _build(dots):
    ents, ips = _fleet()
    pairs = pairs_from_lists(ents, ips)
    n = len(ents)
    hold = np.arange(n) % 10 == 0
    tr, va = pairs.take(np.flatnonzero(~hold)), pairs.take(np.flatnonzero(hold))
    return det.build(tr.entity_hash, tr.addrs, va.entity_hash, va.addrs, dots, seed=1)


def test_monotone_logistic_keeps_weights_non_negative():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3))
    y = (x[:, 0] - x[:, 1] + rng.normal(scale=0.5, size=2000) > 0).astype(float)
    coef, _ = monotone_logistic(x, y)
    assert coef[0] > 0.5  # the real evidence is used
    assert coef[1] == 0.0  # a column pointing the other way is not turned into suspicion
    assert (coef >= 0).all()


def test_monotone_logistic_fits_on_one_blas_thread_and_gives_them_back(monkeypatch):
    import scipy.optimize
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    seen, minimize = [], scipy.optimize.minimize

    def recording(*args, **kwargs):
        seen.append(blas_threads())
        return minimize(*args, **kwargs)

    monkeypatch.setattr(scipy.optimize, "minimize", recording)
    before = blas_threads()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3))
    monotone_logistic(x, (x[:, 0] > 0).astype(float))
    assert seen and all(n == 1 for n in seen[0])  # the thin products on one thread
    assert blas_threads() == before  # and the rest of training keeps its threads


def test_detector_ranks_sibling_addresses_above_foreign_ranges_without_a_model():
    found = _build(lambda h, a: np.zeros(len(h)))  # no model signal at all
    assert all(found.weights()[c] >= 0 for c in COLUMNS)
    hashes = entity_hashes(["i-0-0"] * 2)
    addrs = parse_addresses(["10.0.5.3", "10.4.2.3"])  # own service's range vs another's
    score = found.combine(hashes, addrs, np.zeros(2))
    assert score[0] > score[1]


def test_detector_uses_the_dot_product_when_it_carries_signal():
    service = {int(entity_hashes([f"i-{s}-{i}"])[0]): s for s in range(6) for i in range(5)}

    def oracle(hashes, addrs):  # knows every instance's whole service, seen or not
        own = np.array([service.get(int(h), -1) for h in hashes], np.uint64)
        return np.where((addrs.lo >> np.uint64(16)) & np.uint64(255) == own, 3.0, -3.0)

    found = _build(oracle)
    assert found.weights()["dot_product"] > 0
    nan = found.combine(entity_hashes(["i-0-0"]), parse_addresses(["10.0.1.1"]), np.array([np.nan]))
    assert np.isnan(nan[0])  # no dot product, no score


def test_round_trip_and_clear_errors(tmp_path):
    found = _build(lambda h, a: np.zeros(len(h)))
    path = found.save(tmp_path)
    back = Detector.load(tmp_path)
    q = (entity_hashes(["i-1-1", "i-2-0"]), parse_addresses(["10.1.3.4", "99.1.1.1"]))
    assert np.array_equal(found.combine(*q, np.ones(2)), back.combine(*q, np.ones(2)))
    assert back.meta["history_pairs"] == 1620  # the training pairs only: the holdout stays unseen
    with pytest.raises(DetectorError, match="no detector at"):
        Detector.load(tmp_path / "missing")
    path.write_bytes(b"garbage")
    with pytest.raises(DetectorError, match="not a safetensors file"):
        Detector.load(tmp_path)


def test_fit_refuses_a_holdout_too_small():
    ents, ips = _fleet()
    p = pairs_from_lists(ents, ips)
    with pytest.raises(ValueError, match="too few to fit"):
        det.FitSet.draw(
            det.History.build(p.entity_hash, p.addrs).entities,
            p.entity_hash[:5],
            p.addrs.take(np.arange(5)),
            lambda h, a: np.zeros(len(h)),
            np.random.default_rng(0),
        )


def test_shuffled_negatives_reach_rare_addresses_not_only_popular_ones():
    from lakewatch.model.detector import negatives
    from lakewatch.model.encoding import entity_hashes, parse_addresses

    # 900 pairs to one popular address, 100 pairs to 100 rare ones, each its own entity
    ents = [f"e{k}" for k in range(1000)]
    ips = ["52.216.0.1"] * 900 + [f"10.0.{k // 250}.{k % 250}" for k in range(100)]
    hashes, addrs = entity_hashes(ents), parse_addresses(ips)
    neg_hash, neg_addrs = negatives(np.random.default_rng(0), hashes, addrs)
    assert len(neg_hash) > 1000  # the random ones, and the shuffled ones that differ
    shuffled = neg_addrs.lo[1000:]
    rare = np.isin(shuffled, addrs.lo[900:]).mean()
    # by pair alone a tenth would be rare; half are drawn by distinct address (100 of 101)
    assert 0.4 < rare < 0.65
    assert not np.any((neg_hash[1000:] == hashes[0]) & (shuffled == addrs.lo[0]))


def test_negatives_whose_address_the_entity_or_its_peers_used_are_dropped_from_the_fit():
    """A shuffled negative can land on an address the entity itself (or a peer) used: that
    is no negative, and counting it taught the fit that such history means nothing."""
    ents, ips = _fleet()
    pairs = pairs_from_lists(ents, ips)
    history = det.History.build(pairs.entity_hash, pairs.addrs)
    mine = pairs.take(np.arange(40))  # pairs the history holds: the entity used the /32
    strangers = parse_addresses([f"203.0.113.{i}" for i in range(1, 41)])
    sample = det.FitSet(
        np.concatenate([mine.entity_hash, mine.entity_hash, mine.entity_hash]),
        det.concat_addresses(mine.addrs, mine.addrs, strangers),
        np.zeros(120),
        positives=40,
    )
    found = det.fit_set(history, sample)
    assert found.meta["dropped_negatives"] == 40  # the 40 "negatives" the entity used
    assert found.meta["fit_negatives"] == 40  # the strangers stay


def test_the_blend_is_chosen_on_held_out_pairs_and_never_below_the_baseline_there():
    found = _build(lambda h, a: np.zeros(len(h)))
    info = found.meta["blend"]
    # too few held-out pairs here to compare candidates on: the baseline first, by
    # construction (the logit alone was below the baseline on small populations)
    assert "under 500 held-out normal pairs" in info["why"], info
    assert found.blend == det.BLEND_STEPS[-1] and found.blend_unit > 0
    rng = np.random.default_rng(3)
    n = 4000
    # rows of evidence: normal pairs with history, negatives with less of it
    x = np.zeros((3 * n, len(COLUMNS)))
    for c in ("entity_24", "entity_16", "entity_8"):
        x[:n, COLUMNS.index(c)] = rng.gamma(2.0, 1.0, n)
        x[n:, COLUMNS.index(c)] = rng.gamma(0.5, 0.5, 2 * n) * (rng.random(2 * n) < 0.3)
    x[:, COLUMNS.index("dot_product")] = rng.normal(size=3 * n)  # a logit that knows nothing
    kind = np.repeat(np.array([0, 1, 2], np.int8), n)
    weak = Detector(
        found.history, np.zeros(len(COLUMNS)), np.ones(len(COLUMNS)), np.eye(len(COLUMNS))[-1], 0.0
    )
    blend, _, chosen = det.choose_blend(weak, x, kind, (0.001, 0.01))
    assert blend > 0.5  # a logit of noise: the baseline must carry the score
    best = next(r for r in chosen["candidates"] if r["step"] == chosen["chosen"])
    assert best["worst_margin"] >= 0  # at least the baseline on both kinds, at both rates
    assert chosen["candidates"][-1]["worst_margin"] >= 0  # lexicographic: never below


def test_a_version_1_detector_reads_with_no_blend(tmp_path):
    import json as _json

    from safetensors.numpy import save as st_save

    found = _build(lambda h, a: np.zeros(len(h)))
    tensors, meta = found._tensors()
    meta.update({"format_version": "1"})
    meta.pop("blend")
    back = Detector.from_bytes(st_save(tensors, meta))
    assert back.blend == 0.0
    assert _json.loads(meta["columns"]) == list(COLUMNS)


def _named_build(ents: list[str], ips: list[str]) -> Detector:
    """A detector of these pairs (a tenth held out) that keeps the entities' names, as
    stand-ins need."""
    names: dict[str, int] = {}
    pairs = pairs_from_lists(ents, ips)
    hashes = entity_hashes(ents, names)
    return det.build(
        hashes,
        pairs.addrs,
        hashes[::10],
        pairs.addrs.take(np.arange(0, len(ents), 10)),
        lambda h, a: np.zeros(len(h)),
        names=names,
    )


def test_new_entities_are_scored_as_their_stand_in():
    found = _named_build(*_fleet())
    rows = found.stand_ins(
        ["i-new"] * 3 + ["i-0-0"], ["10.3.0.4", "10.3.1.4", "10.3.2.4", "10.0.0.1"]
    )
    assert rows[3] == -1  # known: itself
    assert len({int(r) for r in rows[:3]}) == 1 and found.name(int(rows[0])).startswith("i-3-")


def test_a_model_of_instances_and_principals_gets_a_detector_for_each():
    """Sign-ins beside instances: each population's own history and weights, dispatched by
    entity, written and read back as one file; principals never stand in for instances."""
    from lakewatch.model.data import pairs_from_lists
    from lakewatch.model.detector import Detector, build_split

    rng = np.random.default_rng(4)
    ents, ips = [], []
    for k in range(30):
        for _ in range(40):
            ents.append(f"i-{k}")
            ips.append(f"10.0.{k}.{int(rng.integers(1, 200))}")
            ents.append(f"sso:p{k}")
            ips.append(f"81.{k}.7.{int(rng.integers(1, 9))}")
    train = pairs_from_lists(ents[::2] + ents[1::2], ips[::2] + ips[1::2])
    hold = pairs_from_lists(ents[:400], ips[:400])
    principal = np.array([e.startswith("sso:") for e in ents[::2] + ents[1::2]])
    held_principal = np.array([e.startswith("sso:") for e in ents[:400]])

    def dots(h, a):
        return np.zeros(len(h), np.float32)

    found = build_split(
        train.entity_hash, train.addrs, hold.entity_hash, hold.addrs, dots,
        principal, held_principal, names=train.name_hashes,
    )  # fmt: skip
    assert found.signin is not None and found.signin.signin is None
    assert not np.isin(found.history.entities, found.signin.history.entities).any()
    back = Detector.from_bytes(found.to_bytes())
    assert back.signin is not None
    pairs = (["i-3", "sso:p3", "sso:p3"], ["10.0.3.5", "81.3.7.2", "203.0.113.9"])
    scores = back.score_pairs(*pairs, np.zeros(3))
    assert scores == pytest.approx(found.score_pairs(*pairs, np.zeros(3)))
    assert scores[1] > scores[2]  # the person's usual network over a new one
    assert scores[1] == pytest.approx(found.signin.score_pairs(["sso:p3"], ["81.3.7.2"], [0.0])[0])
    assert back.stand_ins(["sso:new"], ["81.3.7.2"]).tolist() == [-1]
    # as the scorer asks it: an object's columns, the entities dictionary-encoded
    import pyarrow as pa

    encoded = pa.chunked_array([pa.array(["sso:new", "i-3"]).dictionary_encode()]).combine_chunks()
    assert back.stand_ins(encoded, pa.array(["81.3.7.2", "10.0.3.5"])).tolist()[0] == -1
    assert back.principal_history() is back.signin.history
    one = build_split(
        train.entity_hash, train.addrs, hold.entity_hash, hold.addrs, dots,
        np.zeros(len(train), bool), np.zeros(len(hold), bool), names=train.name_hashes,
    )  # fmt: skip
    assert one.signin is None  # no principals: one detector, as before


def _fleet_both_ways(seed=0, services=4, per=6):
    """``_fleet``'s instances with their inbound entities (``<id>/in``): each receives internet
    clients (every one new) and the answers of its own calls (its service's /24s)."""
    rng = np.random.default_rng(seed)
    ents, ips = [], []
    for s in range(services):
        for i in range(per):
            for _ in range(40):
                ents.append(f"i-{s}-{i}")
                ips.append(f"10.{s}.{rng.integers(0, 6)}.{rng.integers(1, 20)}")
            for _ in range(40):
                ents.append(f"i-{s}-{i}/in")
                ips.append(
                    f"{rng.integers(60, 90)}.{rng.integers(0, 256)}.{rng.integers(0, 256)}.9"
                )
            for _ in range(3):
                ents.append(f"i-{s}-{i}/in")
                ips.append(f"10.{s}.{rng.integers(0, 6)}.{rng.integers(1, 20)}")
    return ents, ips


def test_a_new_instances_inbound_entity_stands_in_as_an_inbound_entity():
    """Its own /24s are its clients' (none shared) and its calls' answers, which its
    siblings' outbound entities use most: the stand-in keeps the direction, through the
    instance's outbound entity's sibling."""
    found = _named_build(*_fleet_both_ways())
    new = ["i-new"] * 3 + ["i-new/in"] * 3 + ["i-lone/in"] * 2
    ips = ["10.2.0.4", "10.2.1.4", "10.2.3.4", "61.2.3.4", "62.2.3.4", "10.2.4.4"]
    ips += ["10.2.5.4", "10.2.2.4"]
    rows = found.stand_ins(new, ips)
    out, inbound, lone = (found.name(int(rows[i])) for i in (0, 3, 6))
    assert out.startswith("i-2-") and not out.endswith("/in")
    assert inbound == out + "/in" and len({int(r) for r in rows[3:6]}) == 1
    assert lone.startswith("i-2-") and lone.endswith("/in")  # no outbound twin: its own, turned
    import pyarrow as pa

    assert found.stand_ins(pa.array(new), pa.array(ips)).tolist() == rows.tolist()
