"""Detection quality on every evaluation set: ``python -m bench quality``.

Sets, each written independently of the others and of the lake: ``login`` (the IP Insights
tutorial's generator), ``fleet`` (services sharing dependency ranges) and ``drift`` (the fleet
after it moved), in ``bench.datasets``; ``lanl`` (users authenticating to computers, after
LANL's 2015 authentication data and its red team), ``cidds`` (CIDDS-001's small business
network and its attacks) and ``churn`` (Auto Scaling groups whose instances are replaced), in
``bench.sets``; and ``lake`` (lakewatch's synthetic Security Lake, per injected kind,
extracted with the project's own SQL). For each anomaly kind, three scorers trained the way
``lakewatch train`` trains (no ``--hp``):

- ``model``: IP Insights' dot product alone;
- ``baseline``: issue 28's per-entity prefix count, ``3 log1p(n24) + 2 log1p(n16) +
  log1p(n8)`` with ``n24`` how often the entity was seen in training with an address in the
  pair's /24 (and so on): a one-line SQL statistic, computed here apart from lakewatch's own
  ``PrefixFrequencyBaseline`` (which weighs the /24 by 4);
- ``detector``: lakewatch's detector (``lakewatch score --detector``).

Each gets its ROC AUC and its true-positive rate at 0.1% false-positive rate (the nightly
operating point: threshold = the normal scores' 0.1% quantile, a pair flagged when strictly
below, so ties at the threshold are not flagged), with a 95% bootstrap interval over both the
normal and the anomalous pairs, and at 1%. A set whose normal pairs carry tags (``churn``:
old and new instances) also gets each tag's false-positive rate at both thresholds.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np

from bench.datasets import drift, fleet, login
from bench.sets import Dataset
from bench.sets.churn import churn
from bench.sets.cidds import cidds
from bench.sets.lanl import lanl
from lakewatch.metrics import roc_auc
from lakewatch.threshold.choose import threshold_for_fpr

START = date(2026, 11, 1)
TARGET_FPR = 0.001
LOOSE_FPR = 0.01
SCORERS = ("model", "baseline", "detector")
# issue 28's baseline: 3 log1p(n24) + 2 log1p(n16) + log1p(n8)
PREFIX_WEIGHTS = ((24, 3.0), (16, 2.0), (8, 1.0))


class PrefixCount:
    """The per-entity prefix-count baseline: how often the entity was seen in training with an
    address in the pair's /24, /16 and /8, as ``sum(weight * log1p(n))``; higher = more
    expected. IPv4 only (anything else, and any entity not seen, scores 0)."""

    def __init__(self, entities: list[str], addresses: list[str]):
        from lakewatch.model.encoding import parse_addresses

        self.ids = {e: i for i, e in enumerate(dict.fromkeys(entities))}
        parsed = parse_addresses(addresses)
        v4 = parsed.family == 4
        ids = self._ids(entities)[v4]
        lo = parsed.lo[v4]
        self.tables = [
            np.unique(self._key(ids, lo, bits), return_counts=True) for bits, _ in PREFIX_WEIGHTS
        ]

    def _ids(self, entities: list[str]) -> np.ndarray:
        return np.array([self.ids.get(e, -1) for e in entities], np.int64)

    @staticmethod
    def _key(ids: np.ndarray, lo: np.ndarray, bits: int) -> np.ndarray:
        prefix = (lo.astype(np.int64) & 0xFFFFFFFF) >> (32 - bits)
        return (ids << 32) | prefix

    def score(self, entities: list[str], addresses: list[str]) -> np.ndarray:
        from lakewatch.model.encoding import parse_addresses

        parsed = parse_addresses(addresses)
        v4 = parsed.family == 4
        ids = self._ids(entities)
        out = np.zeros(len(entities), np.float64)
        for (bits, weight), (uniq, counts) in zip(PREFIX_WEIGHTS, self.tables, strict=True):
            if not uniq.size:
                continue
            key = self._key(ids, parsed.lo, bits)
            pos = np.minimum(np.searchsorted(uniq, key), uniq.size - 1)
            hit = (uniq[pos] == key) & v4 & (ids >= 0)
            out += weight * np.log1p(np.where(hit, counts[pos], 0))
        return out


def tpr_at_fpr(normal: np.ndarray, anomalous: np.ndarray, fpr: float = TARGET_FPR) -> float:
    return float((anomalous < threshold_for_fpr(normal, fpr)).mean())


def tpr_interval(
    normal: np.ndarray, anomalous: np.ndarray, fpr: float = TARGET_FPR, rounds: int = 200
) -> tuple[float, float]:
    """95% bootstrap interval of the TPR at ``fpr``: the threshold's uncertainty included."""
    rng = np.random.default_rng(0)
    draws = [
        tpr_at_fpr(
            normal[rng.integers(0, normal.size, normal.size)],
            anomalous[rng.integers(0, anomalous.size, anomalous.size)],
            fpr,
        )
        for _ in range(rounds)
    ]
    return float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))


def measure(normal: np.ndarray, anomalous: np.ndarray) -> dict:
    lo, hi = tpr_interval(normal, anomalous)
    return {
        "auc": roc_auc(normal, anomalous),
        "tpr": tpr_at_fpr(normal, anomalous),
        "tpr_low": lo,
        "tpr_high": hi,
        "tpr_1pct": tpr_at_fpr(normal, anomalous, LOOSE_FPR),  # where a looser target would be
    }


def tag_fpr(normal: np.ndarray, tags: list[str]) -> dict[str, dict[str, float]]:
    """Each tag's false-positive rate at the thresholds set on all the normal scores."""
    tag = np.array(tags)
    out = {}
    for name in sorted(set(tags)):
        mine = normal[tag == name]
        out[name] = {
            "n": int(mine.size),
            "fpr": float((mine < threshold_for_fpr(normal, TARGET_FPR)).mean()),
            "fpr_1pct": float((mine < threshold_for_fpr(normal, LOOSE_FPR)).mean()),
        }
    return out


def evaluate(ds: Dataset, given: dict | None = None) -> dict:
    """Train as ``lakewatch train`` does (``given``: its ``--hp``, none by default), then
    measure every scorer on every kind."""
    from lakewatch.model.data import pairs_from_lists
    from lakewatch.model.encoding import entity_hashes, parse_addresses
    from lakewatch.model.fit import train_with_detector
    from lakewatch.model.inference import Inference

    train = pairs_from_lists(*ds.train)
    validation = pairs_from_lists(*ds.validation)
    trained = train_with_detector(train, validation, dict(given or {}), log=lambda s: None)
    assert trained.artifact is not None  # kept: no write_model
    inference = Inference(trained.artifact)
    baseline = PrefixCount(ds.train[0] + ds.validation[0], ds.train[1] + ds.validation[1])

    def score(pairs: tuple[list[str], list[str]]) -> dict[str, np.ndarray]:
        hashes, addrs = entity_hashes(pairs[0]), parse_addresses(pairs[1])
        dots = inference.score_parsed(hashes, addrs).dot_product.astype(np.float64)
        return {
            "model": dots,
            "baseline": baseline.score(*pairs),
            "detector": trained.detector.combine(hashes, addrs, dots),
        }

    def as_scored(pairs: tuple[list[str], list[str]]) -> np.ndarray:
        """The detector's scores as the real-time scorer gives them: an entity the model does
        not know scored as its stand-in (``Detector.stand_ins``, ``scoring.process``)."""
        rows = trained.detector.stand_ins(list(pairs[0]), list(pairs[1]))
        ents = [
            trained.detector.name(int(r)) if r >= 0 else e
            for r, e in zip(rows.tolist(), pairs[0], strict=True)
        ]
        hashes, addrs = entity_hashes(ents), parse_addresses(pairs[1])
        dots = inference.score_parsed(hashes, addrs).dot_product.astype(np.float64)
        return trained.detector.combine(hashes, addrs, dots)

    normal = score(ds.normal)
    kinds: dict[str, dict] = {}
    for kind, pairs in sorted(ds.anomalies.items()):
        anomalous = score(pairs)
        kinds[kind] = {"n": len(pairs[0])}
        for name in SCORERS:
            kinds[kind][name] = measure(normal[name], anomalous[name])
    tags = (
        {name: tag_fpr(normal[name], ds.normal_tags) for name in SCORERS} if ds.normal_tags else {}
    )
    scorer: dict = {}
    if ds.normal_tags:  # new entities: how the scorer's stand-ins score them
        scored = as_scored(ds.normal)
        scorer = {
            "tags": tag_fpr(scored, ds.normal_tags),
            "kinds": {k: measure(scored, as_scored(p)) for k, p in sorted(ds.anomalies.items())},
        }
    stats = trained.stats
    return {
        "set": ds.name,
        "train_pairs": len(train),
        "normal_pairs": len(ds.normal[0]),
        "epochs": len(stats["epochs"]),
        "steps": stats["optimizer_steps"],
        "stopped_early": stats["stopped_early"],
        "mini_batch_size": trained.artifact.hp.mini_batch_size,
        "weights": trained.detector.weights(),
        "blend": float(getattr(trained.detector, "blend", 0.0)),
        "kinds": kinds,
        "tags": tags,
        "scorer": scorer,
        "notes": ds.notes,
    }


# -- the synthetic lake, as a data set ---------------------------------------------------------


def label_entity(label: dict) -> str:
    """The entity a label names, as the view it belongs to spells it."""
    from lakewatch.extract.views import View

    return label["entity"] + "/in" if label["view"] == View.INGRESS_PEER else label["entity"]


def lake(days: int = 5, rows: int = 150_000, seed: int = 11) -> Dataset:
    """Train on days 1..N-1 (the generator's usual few anomalies); test on day N, which
    carries 30 events of each kind so each kind's figure rests on enough pairs."""
    from lakewatch.extract.engine import DuckAthena, LakeLocation
    from lakewatch.extract.views import DEFAULT_VIEWS, QueryContext, render
    from lakewatch.lake.sink import LocalStore
    from lakewatch.lake.synthetic import GenerateOptions
    from lakewatch.lake.write import read_labels, write_lake

    test_day = START + timedelta(days=days - 1)
    with tempfile.TemporaryDirectory() as root:
        store = LocalStore(root)
        write_lake(GenerateOptions(days=days - 1, start=START, rows_per_day=rows, seed=seed), store)
        write_lake(
            GenerateOptions(
                days=1, start=test_day, rows_per_day=rows, seed=seed, anomalies_per_kind=30
            ),
            store,
            ground_truth_prefix="ground-truth-test/",
        )
        engine = DuckAthena(LakeLocation.open(root))

        def extract(d0: date, d1: date):
            ctx = QueryContext(
                region="us-east-1",
                source_version="2.0",
                start=datetime.combine(d0, datetime.min.time(), UTC),
                end=datetime.combine(d1, datetime.min.time(), UTC),
            )
            return engine.query(render("extract.sql", ctx), ctx)

        history = extract(START, test_day)
        test = extract(test_day, test_day + timedelta(days=1))
        labels = read_labels(store, "ground-truth-test/")
    split = history["split"].to_pylist()
    ents, ips = history["entity"].to_pylist(), history["ip"].to_pylist()
    is_train = [s == "train" for s in split]
    train = (
        [e for e, t in zip(ents, is_train, strict=True) if t],
        [a for a, t in zip(ips, is_train, strict=True) if t],
    )
    val = (
        [e for e, t in zip(ents, is_train, strict=True) if not t],
        [a for a, t in zip(ips, is_train, strict=True) if not t],
    )
    anomalies: dict[str, set] = {}
    for label in labels:
        if label["view"] in DEFAULT_VIEWS:
            anomalies.setdefault(label["kind"], set()).add((label_entity(label), label["ip"]))
    labelled = set().union(*anomalies.values())
    known = set(train[0]) | set(val[0])
    normal = sorted(
        {
            (e, i)
            for e, i in zip(test["entity"].to_pylist(), test["ip"].to_pylist(), strict=True)
            if (e, i) not in labelled and e in known
        }
    )
    pick = np.random.default_rng(0).choice(len(normal), min(20_000, len(normal)), replace=False)
    normal = [normal[i] for i in sorted(pick)]
    return Dataset(
        "lake",
        train,
        val,
        ([e for e, _ in normal], [a for _, a in normal]),
        {
            kind: (
                [e for e, _ in sorted(pp) if e in known],
                [a for e, a in sorted(pp) if e in known],
            )
            for kind, pp in anomalies.items()
        },
        [f"test day {test_day}; distinct test-day pairs of known entities"],
    )


# --quick is a smoke run of every path: two epochs instead of the schedule's ~2,000 steps
QUICK_HP = {"epochs": 2}
BUILDERS = {
    "login": lambda quick: login(users=500, networks=800) if quick else login(),
    "fleet": lambda quick: fleet(services=15) if quick else fleet(),
    "drift": lambda quick: drift(services=15, days=3) if quick else drift(),
    "lanl": lambda quick: lanl(users=400, days=8, campaigns=6) if quick else lanl(),
    "cidds": lambda quick: (
        cidds(clients_per_subnet=6, train_days=5, test_days=2, attack_runs=40) if quick else cidds()
    ),
    "churn": lambda quick: churn(services=15, days=4, per_kind=300) if quick else churn(),
    "lake": lambda quick: lake(days=3, rows=30_000) if quick else lake(),
}


def run_one(name: str, quick: bool = False) -> dict:
    """One set, measured in its own process (``bench.common.isolated``); with its wall and
    CPU seconds (all threads), the CPU time being what a loaded machine does not change."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = evaluate(BUILDERS[name](quick), QUICK_HP if quick else None)
    out["wall_s"] = time.perf_counter() - wall
    out["cpu_s"] = time.process_time() - cpu
    return out


def table(results: list[dict]) -> list[str]:
    lines = [
        "  set     kind               n     "
        + "  ".join(f"{s + ' AUC':>12} {'TPR@0.1%FPR [95% CI]':>22} {'TPR@1%':>7}" for s in SCORERS)
    ]
    for res in results:
        for kind, row in res["kinds"].items():
            cells = []
            for s in SCORERS:
                m = row[s]
                cells.append(
                    f"{m['auc']:>12.4f} {m['tpr']:>7.1%} [{m['tpr_low']:.1%}, "
                    f"{m['tpr_high']:.1%}] {m['tpr_1pct']:>7.1%}"
                )
            lines.append(f"  {res['set']:<7} {kind:<16} {row['n']:>5}  " + "  ".join(cells))
    return lines


def tag_lines(res: dict) -> list[str]:
    """Each normal tag's false-positive rate per scorer, at the 0.1% and 1% thresholds."""
    if not res.get("tags"):
        return []
    names = sorted(next(iter(res["tags"].values())))
    lines = [
        f"    {res['set']}: false-positive rate of each kind of normal pair at the 0.1% / 1% "
        "thresholds (set on all normal pairs): "
        + ", ".join(f"{t} {res['tags']['model'][t]['n']:,} pairs" for t in names)
    ]
    for s in SCORERS:
        cells = [
            f"{t} {res['tags'][s][t]['fpr']:.2%} / {res['tags'][s][t]['fpr_1pct']:.2%}"
            for t in names
        ]
        lines.append(f"      {s:<9} " + "; ".join(cells))
    scorer = res.get("scorer")
    if scorer:
        cells = [
            f"{t} {scorer['tags'][t]['fpr']:.2%} / {scorer['tags'][t]['fpr_1pct']:.2%}"
            for t in names
        ]
        kinds = [
            f"{k} TPR {m['tpr']:.1%} / {m['tpr_1pct']:.1%}" for k, m in scorer["kinds"].items()
        ]
        lines.append(
            "      detector as the real-time scorer scores (new entities as their stand-ins): "
            + "; ".join(cells + kinds)
        )
    return lines


def run(quick: bool = False) -> list[str]:
    from bench.common import isolated

    results = [isolated("bench.quality", "run_one", name=name, quick=quick) for name in BUILDERS]
    hp = (
        "--hp " + " ".join(f"{k}={v}" for k, v in QUICK_HP.items())
        if quick
        else "lakewatch train defaults, no --hp"
    )
    lines = [
        f"quality: {hp}; AUC, true-positive rate at 0.1% FPR "
        "(95% bootstrap interval) and at 1% FPR (threshold: the normal scores' quantile, ties "
        "not flagged)",
        *table(results),
    ]
    for res in results:
        lines.append(
            f"  {res['set']}: {res['train_pairs']:,} training pairs, {res['normal_pairs']:,} "
            f"normal test pairs; batch {res['mini_batch_size']}, {res['epochs']} epochs, "
            f"{res['steps']} steps{' (stopped early)' if res['stopped_early'] else ''}, "
            f"{res['wall_s']:.0f} s ({res['cpu_s']:.0f} CPU s); "
            "detector weights "
            + ", ".join(f"{k} {v:.2f}" for k, v in res["weights"].items() if v > 0.005)
            + (f"; baseline blend {res['blend']:g}" if res.get("blend") else "")
        )
        lines += [f"    {note}" for note in res["notes"]]
        lines += tag_lines(res)
    for measure_name, key, strict in (
        ("AUC", "auc", True),
        ("TPR@0.1%", "tpr", True),
        ("TPR@1%", "tpr_1pct", False),
    ):
        beaten = [
            f"{res['set']}/{kind}"
            + (" (tied)" if row["detector"][key] == row["baseline"][key] else "")
            for res in results
            for kind, row in res["kinds"].items()
            if _below(row["detector"][key], row["baseline"][key], strict)
        ]
        word = "above" if strict else "at least"
        lines.append(
            f"  detector {measure_name} {word} the baseline's on every set and kind"
            if not beaten
            else f"  detector {measure_name} NOT {word} the baseline's on: {', '.join(beaten)}"
        )
    return lines


def _below(detector: float, baseline: float, strict: bool) -> bool:
    return detector <= baseline if strict else detector < baseline
