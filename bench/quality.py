"""Model quality on the synthetic lake: anomaly AUC of IP Insights and of the prefix baseline.

Training days carry the generator's usual few anomalies; the test day carries many (30 events
of each kind), so each kind's AUC rests on enough pairs. Normal pairs are the test day's
unlabelled pairs, which include addresses an instance's siblings used and it has not. Both
scorers see the same training pairs (the default views, extracted with the project's SQL).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta

import numpy as np

from lakewatch.extract.engine import DuckAthena, LakeLocation
from lakewatch.extract.views import DEFAULT_VIEWS, QueryContext, render
from lakewatch.lake.generator import GenerateOptions
from lakewatch.lake.sink import LocalStore
from lakewatch.lake.write import read_labels, write_lake
from lakewatch.metrics import roc_auc
from lakewatch.model.artifact import ModelArtifact
from lakewatch.model.baseline import PrefixFrequencyBaseline
from lakewatch.model.data import BadRows, Pairs
from lakewatch.model.encoding import entity_hashes, parse_addresses
from lakewatch.model.hyperparameters import resolve
from lakewatch.model.scorer import Scorer
from lakewatch.model.train import train

START = date(2026, 11, 1)


def _pairs(table) -> Pairs:
    ent = table["entity"].combine_chunks()
    return Pairs(
        ent, entity_hashes(ent), parse_addresses(table["ip"].combine_chunks()), BadRows(), []
    )


def label_entity(label: dict) -> str:
    """The entity a label names, as the view it belongs to spells it."""
    return label["entity"] + "/in" if label["view"] == "ingress_peer" else label["entity"]


def evaluate(days: int = 5, rows: int = 150_000, seed: int = 11, hp: dict | None = None) -> dict:
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
    train_rows = history.filter(history["split"].to_numpy(zero_copy_only=False) == "train")
    val_rows = history.filter(history["split"].to_numpy(zero_copy_only=False) == "validation")
    pairs, validation = _pairs(train_rows), _pairs(val_rows)
    params = resolve(
        hp or {},
        distinct_entities=len(np.unique(pairs.entity_hash)),
        distinct_addresses=len(np.unique(pairs.addrs.lo)),
    )
    result = train(pairs, params, validation=validation, log=lambda s: None)
    scorer = Scorer(ModelArtifact.from_training(result))
    baseline = PrefixFrequencyBaseline(pairs.entity_hash, pairs.addrs)

    anomalies: dict[str, set] = {}
    for label in labels:
        if label["view"] in DEFAULT_VIEWS:
            anomalies.setdefault(label["kind"], set()).add((label_entity(label), label["ip"]))
    labelled = set().union(*anomalies.values())
    normal = [
        (e, i)
        for e, i in zip(test["entity"].to_pylist(), test["ip"].to_pylist(), strict=True)
        if (e, i) not in labelled
    ]
    pick = np.random.default_rng(0).choice(len(normal), min(20_000, len(normal)), replace=False)
    normal = [normal[i] for i in pick]

    def both(pp):
        ents, ips = [p[0] for p in pp], [p[1] for p in pp]
        return (
            scorer.score(ents, ips).dot_product,
            baseline.score(entity_hashes(ents), parse_addresses(ips)),
        )

    normal_model, normal_base = both(normal)
    kinds = {}
    for kind, pp in sorted(anomalies.items()):
        m, b = both(sorted(pp))
        kinds[kind] = {
            "n": len(pp),
            "model": roc_auc(normal_model, m),
            "baseline": roc_auc(normal_base, b),
        }
    return {
        "test_day": test_day.isoformat(),
        "train_pairs": len(pairs),
        "kinds": kinds,
        "validation_auc": result.stats["validation:discriminator_auc"],
    }
