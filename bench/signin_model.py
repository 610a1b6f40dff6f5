"""Sign-ins and instances: one IP Insights model for both, or one each? ``python -m bench
signin_model`` (issue 29, item 3).

Principals (users, roles, Identity Center people) and instances are different populations:
a person signs in from a few home, office and mobile networks; an instance reaches its
service's dependencies. SageMaker's built-in IP Insights takes any entity strings, so one model
can hold both. This bench trains, the way ``lakewatch train`` does (no ``--hp``):

- ``shared``: one model (and one detector) on the network pairs and the sign-in pairs together;
- ``split``: the one model, but a detector per population (its own history and weights):
  what ``lakewatch train`` now builds for such a pair set (``model.detector.build_split``);
- ``separate``: a model on the network pairs alone and another on the sign-in pairs alone;

and scores each population's anomalies against that population's own normal pairs (each view
has its own threshold, so a population's false-positive rate is read among its own pairs):
AUC and the true-positive rate at 0.1% and 1% false-positive rate, for IP Insights' dot product
(``model``) and the detector (``detector``, what the scorer compares).

Two cases:

- ``login+fleet``: the sign-ins are ``bench.datasets.login`` (SageMaker's IP Insights tutorial
  generator), the instances ``bench.datasets.fleet``; both written independently of the lake;
- ``lake``: lakewatch's synthetic lake with CloudTrail, extracted with the project's SQL (the
  default views and ``signin``); trained on days 1..N-1, tested on day N (30 injected events of
  each kind), the sign-in kinds against the day's signin pairs, the network kinds against its
  network pairs.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from bench.datasets import Dataset, Pairs, fleet, login
from bench.quality import label_entity, measure
from lakewatch.lake.principals import is_principal

START = date(2026, 11, 1)
SCORERS = ("model", "detector")
# one model and detector; one model, a detector per population; a model (and detector) each
VARIANTS = ("shared", "split", "separate")
Evaluation = dict[str, tuple[Pairs, dict[str, Pairs]]]  # population -> (normal, anomalies)


def _join(*parts: Pairs) -> Pairs:
    return [e for p in parts for e in p[0]], [a for p in parts for a in p[1]]


def fit_and_measure(
    train: Pairs,
    validation: Pairs,
    populations: Evaluation,
    one_detector: bool = False,
    hp: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One model trained on ``train`` as ``lakewatch train`` trains it (a detector per
    population when it holds principals and instances; ``one_detector``: one detector for
    every entity, the pairs' names withheld so the fit cannot tell them apart); each
    population's kinds measured against its own normal pairs."""
    from lakewatch.model.data import pairs_from_lists
    from lakewatch.model.encoding import entity_hashes, parse_addresses
    from lakewatch.model.fit import train_with_detector
    from lakewatch.model.inference import Inference

    fit = pairs_from_lists(*train)
    if one_detector:
        fit.name_hashes = None
    trained = train_with_detector(
        fit, pairs_from_lists(*validation), dict(hp or {}), log=lambda s: None
    )
    assert trained.artifact is not None
    assert one_detector == (trained.detector.signin is None) or len(populations) == 1
    inference = Inference(trained.artifact)

    def score(pairs: Pairs) -> dict[str, np.ndarray]:
        hashes, addrs = entity_hashes(pairs[0]), parse_addresses(pairs[1])
        dots = inference.score_parsed(hashes, addrs).dot_product.astype(np.float64)
        return {"model": dots, "detector": trained.detector.combine(hashes, addrs, dots)}

    out: dict[str, Any] = {"train_pairs": len(train[0]), "kinds": {}}
    for population, (normal_pairs, anomalies) in populations.items():
        normal = score(normal_pairs)
        for kind, pairs in sorted(anomalies.items()):
            if not pairs[0]:
                continue
            bad = score(pairs)
            out["kinds"][f"{population}/{kind}"] = {
                "n": len(pairs[0]),
                "normal": len(normal_pairs[0]),
                **{s: measure(normal[s], bad[s]) for s in SCORERS},
            }
    return out


def compare(
    name: str, signin: Dataset, network: Dataset, hp: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Shared against separate on one case: the sign-in population and the network one
    (``hp``: hyperparameters over ``lakewatch train``'s defaults; --quick's two epochs)."""
    evaluation = {
        "signin": (signin.normal, signin.anomalies),
        "network": (network.normal, network.anomalies),
    }
    train = _join(network.train, signin.train)
    validation = _join(network.validation, signin.validation)
    shared = fit_and_measure(train, validation, evaluation, one_detector=True, hp=hp)
    split = fit_and_measure(train, validation, evaluation, hp=hp)
    alone_signin = fit_and_measure(
        signin.train, signin.validation, {"signin": evaluation["signin"]}, hp=hp
    )
    alone_network = fit_and_measure(
        network.train, network.validation, {"network": evaluation["network"]}, hp=hp
    )
    separate = {**alone_signin["kinds"], **alone_network["kinds"]}
    return {
        "case": name,
        "train_pairs": {"signin": len(signin.train[0]), "network": len(network.train[0])},
        "kinds": {
            k: {"shared": shared["kinds"][k], "split": split["kinds"][k], "separate": separate[k]}
            for k in separate
        },
    }


def lake_sets(days: int = 5, rows: int = 60_000, seed: int = 11) -> tuple[Dataset, Dataset]:
    """The synthetic lake with CloudTrail as two data sets: its sign-in pairs and its network
    pairs (train: days 1..N-1, the extract's split; test: day N's distinct pairs of known
    entities, the injected ones as anomalies per kind)."""
    from lakewatch.extract.engine import DuckAthena, LakeLocation
    from lakewatch.extract.views import DEFAULT_VIEWS, SIGNIN_VIEWS, QueryContext, render
    from lakewatch.lake.sink import LocalStore
    from lakewatch.lake.synthetic import GenerateOptions
    from lakewatch.lake.write import read_labels, write_lake

    views = (*DEFAULT_VIEWS, *SIGNIN_VIEWS)
    test_day = START + timedelta(days=days - 1)
    common = {"rows_per_day": rows, "seed": seed, "cloudtrail": True, "origin": START}
    with tempfile.TemporaryDirectory() as root:
        store = LocalStore(root)
        write_lake(GenerateOptions(days=days - 1, start=START, **common), store)
        write_lake(
            GenerateOptions(days=1, start=test_day, anomalies_per_kind=30, **common),
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
                views=views,
            )
            return engine.query(render("extract.sql", ctx), ctx)

        history = extract(START, test_day)
        test = extract(test_day, test_day + timedelta(days=1))
        labels = read_labels(store, "ground-truth-test/")
    rows_of = list(
        zip(
            history["entity"].to_pylist(),
            history["ip"].to_pylist(),
            history["split"].to_pylist(),
            strict=True,
        )
    )
    test_pairs = set(zip(test["entity"].to_pylist(), test["ip"].to_pylist(), strict=True))
    anomalies: dict[str, set[tuple[str, str]]] = {}
    for label in labels:
        anomalies.setdefault(label["kind"], set()).add((label_entity(label), label["ip"]))
    labelled = set().union(*anomalies.values())

    def population(signin: bool) -> Dataset:
        mine = [(e, a, s) for e, a, s in rows_of if is_principal(e) == signin]
        train = ([e for e, _, s in mine if s == "train"], [a for _, a, s in mine if s == "train"])
        val = ([e for e, _, s in mine if s != "train"], [a for _, a, s in mine if s != "train"])
        known = {e for e, _, _ in mine}
        normal = sorted(
            (e, a) for e, a in test_pairs - labelled if e in known and is_principal(e) == signin
        )
        kinds = {
            kind: sorted(p for p in pairs if p[0] in known)
            for kind, pairs in anomalies.items()
            if all(is_principal(e) == signin for e, _ in pairs)
        }
        return Dataset(
            "lake-signin" if signin else "lake-network",
            train,
            val,
            ([e for e, _ in normal], [a for _, a in normal]),
            {k: ([e for e, _ in v], [a for _, a in v]) for k, v in kinds.items()},
        )

    return population(True), population(False)


def as_people(ds: Dataset) -> Dataset:
    """The login set's users named as the signin view names Identity Center people
    (``sso:<user>``), so principals are told from instances as the pipeline tells them."""

    def people(pairs: Pairs) -> Pairs:
        return [f"sso:{e}" for e in pairs[0]], pairs[1]

    return Dataset(
        ds.name,
        people(ds.train),
        people(ds.validation),
        people(ds.normal),
        {k: people(v) for k, v in ds.anomalies.items()},
        ds.notes,
    )


QUICK_HP = {"epochs": 2}


def run_case(name: str, quick: bool = False) -> dict[str, Any]:
    """One case, measured in its own process (``bench.common.isolated``)."""
    if name == "login+fleet":
        if quick:  # a smoke run of the path: small sets, two epochs
            return compare(
                name, as_people(login(users=300, networks=500)), fleet(services=8), QUICK_HP
            )
        return compare(name, as_people(login()), fleet())
    if quick:
        return compare(name, *lake_sets(days=3, rows=15_000), QUICK_HP)
    return compare(name, *lake_sets())


def table(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"  {'case':<12} {'population/kind':<31} {'n':>5} {'normal':>6}  model   "
        + "  ".join(f"{s + ' AUC':>12} {'TPR@0.1%':>8} {'TPR@1%':>7}" for s in VARIANTS)
    ]
    for res in results:
        for kind, row in res["kinds"].items():
            for scorer in SCORERS:
                cells = [
                    f"{row[m][scorer]['auc']:>12.4f} {row[m][scorer]['tpr']:>8.1%} "
                    f"{row[m][scorer]['tpr_1pct']:>7.1%}"
                    for m in VARIANTS
                ]
                lines.append(
                    f"  {res['case']:<12} {kind:<31} {row['shared']['n']:>5} "
                    f"{row['shared']['normal']:>6}  {scorer:<8}" + "  ".join(cells)
                )
    return lines


def verdict(results: list[dict[str, Any]], variant: str) -> str:
    """Where ``variant`` is worse than separate models by more than noise (detector: AUC by
    0.005, TPR at 1% by 3 points)."""
    worse = [
        f"{res['case']}/{kind}"
        for res in results
        for kind, row in res["kinds"].items()
        if row[variant]["detector"]["auc"] < row["separate"]["detector"]["auc"] - 0.005
        or row[variant]["detector"]["tpr_1pct"] < row["separate"]["detector"]["tpr_1pct"] - 0.03
    ]
    return (
        f"  {variant}: detector within noise of (or above) separate models on every case and kind"
        if not worse
        else f"  {variant}: detector worse than separate models on: " + ", ".join(worse)
    )


def run(quick: bool = False) -> list[str]:
    from bench.common import isolated

    results = [
        isolated("bench.signin_model", "run_case", name=name, quick=quick)
        for name in ("login+fleet", "lake")
    ]
    lines = [
        "signin_model: one model for sign-ins and instances (shared) or one each (separate); "
        "each population's anomalies against its own normal pairs (its own threshold): AUC, "
        "TPR at 0.1% and 1% FPR",
        *table(results),
    ]
    for res in results:
        pairs = res["train_pairs"]
        lines.append(
            f"  {res['case']}: {pairs['signin']:,} sign-in and {pairs['network']:,} network "
            "training pairs"
        )
    lines += [verdict(results, "shared"), verdict(results, "split")]
    return lines
