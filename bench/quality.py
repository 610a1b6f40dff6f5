"""Detection quality on every evaluation set: ``python -m bench quality``.

Sets (``bench.datasets``, written independently of each other and of the lake): ``login`` (the
IP Insights tutorial's generator), ``fleet`` (services sharing dependency ranges), ``drift``
(the fleet after it moved), and ``lake`` (lakewatch's synthetic Security Lake, per injected
kind, extracted with the project's own SQL). For each anomaly kind, three scorers trained the
way ``lakewatch train`` trains (no ``--hp``):

- ``model``: IP Insights' dot product alone;
- ``baseline``: the per-entity prefix-frequency baseline (a one-line SQL statistic);
- ``detector``: lakewatch's detector (``lakewatch score --detector``).

Each gets its ROC AUC and its true-positive rate at 0.1% false-positive rate (the nightly
operating point: threshold = the normal scores' 0.1% quantile, a pair flagged when strictly
below), with a 95% bootstrap interval over both the normal and the anomalous pairs.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta

import numpy as np

from bench.datasets import Dataset, drift, fleet, login
from lakewatch.metrics import roc_auc
from lakewatch.threshold.choose import threshold_for_fpr

START = date(2026, 11, 1)
TARGET_FPR = 0.001
SCORERS = ("model", "baseline", "detector")


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
        "tpr_1pct": tpr_at_fpr(normal, anomalous, 0.01),  # where a looser target would be
    }


def evaluate(ds: Dataset) -> dict:
    """Train as ``lakewatch train`` does, then measure every scorer on every kind."""
    from lakewatch.model.baseline import PrefixFrequencyBaseline
    from lakewatch.model.data import pairs_from_lists
    from lakewatch.model.encoding import entity_hashes, parse_addresses
    from lakewatch.model.fit import train_with_detector
    from lakewatch.model.inference import Inference

    train = pairs_from_lists(*ds.train)
    validation = pairs_from_lists(*ds.validation)
    trained = train_with_detector(train, validation, {}, log=lambda s: None)
    assert trained.artifact is not None  # kept: no write_model
    inference = Inference(trained.artifact)
    baseline = PrefixFrequencyBaseline(
        np.concatenate([train.entity_hash, validation.entity_hash]),
        parse_addresses(ds.train[1] + ds.validation[1]),
    )

    def score(pairs: tuple[list[str], list[str]]) -> dict[str, np.ndarray]:
        hashes, addrs = entity_hashes(pairs[0]), parse_addresses(pairs[1])
        dots = inference.score_parsed(hashes, addrs).dot_product.astype(np.float64)
        return {
            "model": dots,
            "baseline": baseline.score(hashes, addrs),
            "detector": trained.detector.combine(hashes, addrs, dots),
        }

    normal = score(ds.normal)
    kinds = {}
    for kind, pairs in sorted(ds.anomalies.items()):
        anomalous = score(pairs)
        kinds[kind] = {"n": len(pairs[0])}
        for name in SCORERS:
            kinds[kind][name] = measure(normal[name], anomalous[name])
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
        "kinds": kinds,
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
    train = ([e for e, s in zip(ents, split, strict=True) if s == "train"], [])
    train = (train[0], [a for a, s in zip(ips, split, strict=True) if s == "train"])
    val = ([e for e, s in zip(ents, split, strict=True) if s != "train"], [])
    val = (val[0], [a for a, s in zip(ips, split, strict=True) if s != "train"])
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


BUILDERS = {
    "login": lambda quick: login(users=500, networks=800) if quick else login(),
    "fleet": lambda quick: fleet(services=15) if quick else fleet(),
    "drift": lambda quick: drift(services=15, days=3) if quick else drift(),
    "lake": lambda quick: lake(days=3, rows=30_000) if quick else lake(),
}


def run_one(name: str, quick: bool = False) -> dict:
    """One set, measured in its own process (``bench.common.isolated``)."""
    return evaluate(BUILDERS[name](quick))


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


def run(quick: bool = False) -> list[str]:
    from bench.common import isolated

    results = [isolated("bench.quality", "run_one", name=name, quick=quick) for name in BUILDERS]
    lines = [
        "quality: lakewatch train defaults, no --hp; AUC, true-positive rate at 0.1% FPR "
        "(95% bootstrap interval) and at 1% FPR (threshold: the normal scores' quantile, ties "
        "not flagged)",
        *table(results),
    ]
    for res in results:
        lines.append(
            f"  {res['set']}: {res['train_pairs']:,} training pairs, {res['normal_pairs']:,} "
            f"normal test pairs; batch {res['mini_batch_size']}, {res['epochs']} epochs, "
            f"{res['steps']} steps{' (stopped early)' if res['stopped_early'] else ''}; "
            "detector weights "
            + ", ".join(f"{k} {v:.2f}" for k, v in res["weights"].items() if v > 0.005)
        )
        lines += [f"    {note}" for note in res["notes"]]
    for measure_name, key, strict in (
        ("AUC", "auc", True),
        ("TPR@0.1%", "tpr", True),
        ("TPR@1%", "tpr_1pct", False),
    ):
        beaten = [
            f"{res['set']}/{kind}"
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
