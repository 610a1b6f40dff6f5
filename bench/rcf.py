"""Random Cut Forest: speed beside scikit-learn's IsolationForest (same trees, same sample
size, same run), AWS's Rust RCF (krcf) one point at a time for reference, and AUC on two
feature sets written from published descriptions (``bench.netflow_features``: CIDDS-001,
``bench.dns_features``: CIC-Bell-DNS-EXF-2021), neither sharing code with the lake's
generator. Targets (issue 30): training >= 50,000 rows/s, scoring >= 100,000 rows/s, RCF's AUC
at least IsolationForest's on every set. Rows per CPU-second are printed beside the wall-clock
rates: on a machine other jobs share, they say more about the code than the wall clock does.

Each set is measured with both of ``extract.rcf_features``' transforms, the same for RCF and
IsolationForest: ``fleet`` (every column z-scored by the training rows) and ``deviation``
(each row its host's deviation from the host's own training median, in the host's spreads,
counts floored at the usual, the hour as it is: ``instance_medians``, ``instance_spreads``,
``deviation``, the functions ``FeatureProfile`` applies to the lake's rows; then z-scored).
Beside AUC: TPR at 0.1% and 1% FPR, and the attack rows above the threshold that gives one
false alarm a day (the normal scores' 1 - 1/(hosts x 24) quantile)."""

from __future__ import annotations

import os
import time

import numpy as np

from bench import dns_features, netflow_features
from bench.common import row

TREES, SAMPLES = 100, 256


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _clocked(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of every thread): the CPU time moves less than the wall
    time when other jobs share the cores."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _rcf_fit(rows: np.ndarray, seed: int = 0):
    from lakewatch.model.rcf.forest import Sampler
    from lakewatch.model.rcf.hyperparameters import RcfHyperparameters

    hp = RcfHyperparameters(feature_dim=rows.shape[1], num_trees=TREES)
    sampler = Sampler(hp, seed)
    for chunk in np.array_split(rows, max(1, len(rows) // 65536)):  # as the CSV files stream
        sampler.add(chunk)
    return sampler.build()


def _iforest(rows: np.ndarray):
    from sklearn.ensemble import IsolationForest

    return IsolationForest(
        n_estimators=TREES, max_samples=min(SAMPLES, len(rows)), random_state=0
    ).fit(rows)


def _krcf_rates(rows: np.ndarray) -> tuple[float, float]:
    """krcf's updates/s and scores/s, one Python call a point (the measured baseline)."""
    import krcf

    forest = krcf.RandomCutForest(
        {
            "dimensions": rows.shape[1],
            "shingle_size": 1,
            "num_trees": TREES,
            "sample_size": SAMPLES,
            "output_after": 1,
            "random_seed": 1,
            "lambda": 0.0,
        }
    )
    update = _timed(lambda: [forest.update(r) for r in rows])
    score = _timed(lambda: [forest.score(r) for r in rows])
    return len(rows) / update, len(rows) / score


def speed(quick: bool) -> list[str]:
    rng = np.random.default_rng(3)
    train, _, _ = netflow_features.dataset(train=20_000 if quick else 500_000, test=10)
    score_rows = train[: 20_000 if quick else 200_000]
    _rcf_fit(train[:1000]).score(train[:10])  # compiled code and imports loaded before timing
    _iforest(train[:1000]).score_samples(train[:10])
    rcf_fit_s, rcf_fit_cpu = _clocked(lambda: _rcf_fit(train))
    forest = _rcf_fit(train)
    rcf_score_s, rcf_score_cpu = _clocked(lambda: forest.score(score_rows))  # with its layout
    if_fit_s, if_fit_cpu = _clocked(lambda: _iforest(train))
    iforest = _iforest(train)
    if_score_s, if_score_cpu = _clocked(lambda: iforest.score_samples(score_rows))
    k_update, k_score = _krcf_rates(train[rng.permutation(len(train))[: 2000 if quick else 10_000]])
    fit_rate, score_rate = len(train) / rcf_fit_s, len(score_rows) / rcf_score_s
    if_fit_rate, if_score_rate = len(train) / if_fit_s, len(score_rows) / if_score_s
    per_cpu = [
        f"{n / max(s, 1e-9):,.0f}"
        for n, s in (
            (len(train), rcf_fit_cpu),
            (len(score_rows), rcf_score_cpu),
            (len(train), if_fit_cpu),
            (len(score_rows), if_score_cpu),
        )
    ]
    threads = os.environ.get("NUMBA_NUM_THREADS", str(os.cpu_count()))
    load = os.getloadavg()[0]  # another job on the machine slows both sides of each ratio
    return [
        f"rcf: {TREES} trees x {SAMPLES} samples, {train.shape[1]} features, "
        f"{threads} threads (IsolationForest: scikit-learn's defaults, one thread); "
        f"load average {load:.1f} on {os.cpu_count()} CPUs",
        row(
            f"train rows/s ({len(train):,} rows)",
            f"{fit_rate:,.0f}",
            f"{fit_rate / if_fit_rate:.2f}x IsolationForest ({if_fit_rate:,.0f}); target 50,000",
        ),
        row(
            f"score rows/s ({len(score_rows):,} rows)",
            f"{score_rate:,.0f}",
            f"{score_rate / if_score_rate:.2f}x IsolationForest ({if_score_rate:,.0f}); "
            "target 100,000",
        ),
        row(
            "rows per CPU-second, train | score",
            f"{per_cpu[0]} | {per_cpu[1]}",
            f"IsolationForest {per_cpu[2]} | {per_cpu[3]} (CPU time: the load moves it less)",
        ),
        row(
            "krcf one point a call, updates/s | scores/s",
            f"{k_update:,.0f} | {k_score:,.0f}",
            "AWS's Rust RCF from Python, the baseline",
        ),
    ]


def _auc(normal_scores: np.ndarray, anomaly_scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    labels = np.r_[np.zeros(len(normal_scores)), np.ones(len(anomaly_scores))]
    return float(roc_auc_score(labels, np.r_[normal_scores, anomaly_scores]))


TRANSFORMS = ("fleet", "deviation")


def _transformed(data, transform: str, counts: tuple[int, ...], hours: tuple[int, ...]):
    """Every set's rows as the models see them, fitted on its training rows: ``fleet``
    z-scores each column (RCF cuts a feature in proportion to its range, so features must
    share a scale; IsolationForest, which picks features uniformly, is indifferent);
    ``deviation`` first takes each row's distance from its host's usual (``hosts`` of
    ``dataset_with_hosts``), as ``FeatureProfile`` does the lake's."""
    from lakewatch.extract import rcf_features as rf

    train, normal, attacks, hosts = data
    sets = {"train": train, "normal": normal, **attacks}
    if transform == "deviation":
        names = {k: np.asarray(v, dtype=object) for k, v in hosts.items()}
        usual, overall = rf.instance_medians(train.astype(np.float64), names["train"])

        def centre_of(who: np.ndarray) -> np.ndarray:
            return np.asarray([usual.get(str(h), overall) for h in who], np.float64)

        floor = np.quantile(train.astype(np.float64), rf.FLOOR_QUANTILE, axis=0)
        spread, fleet = rf.instance_spreads(
            train.astype(np.float64), names["train"], centre_of(names["train"]), hours
        )
        sets = {
            k: rf.deviation(
                rows.astype(np.float64),
                centre_of(names[k]),
                np.asarray([spread.get(str(h), fleet) for h in names[k]], np.float64),
                counts,
                hours,
                floor,
            )
            for k, rows in sets.items()
        }
    z = rf.Standardization.fit(sets["train"].astype(np.float64))
    out = {k: z.apply(rows.astype(np.float64)).astype(np.float32) for k, rows in sets.items()}
    return out.pop("train"), out.pop("normal"), out


def _operating(normal: np.ndarray, attack: np.ndarray, per_day: int) -> str:
    """TPR at 0.1% and 1% FPR, attack rows above the one-false-alarm-a-day threshold."""
    one = np.quantile(normal, 1 - 1 / per_day)
    tprs = [float((attack > np.quantile(normal, 1 - f)).mean()) for f in (0.001, 0.01)]
    return f"{tprs[0]:.3f} {tprs[1]:.3f} {int((attack > one).sum())}/{attack.size}"


def quality(name: str, data, counts: tuple[int, ...], hours: tuple[int, ...]) -> list[str]:
    per_day = 24 * len(set(np.asarray(data[3]["train"]).tolist()))  # host-hours a day
    lines = [
        f"rcf AUC, {name} ({len(data[0]):,} training rows, {len(data[1]):,} normal test rows, "
        f"{per_day // 24} hosts): RCF | IsolationForest; then TPR at 0.1% and 1% FPR and rows "
        f"above one false alarm a day (1 in {per_day:,}), RCF | IsolationForest"
    ]
    for transform in TRANSFORMS:
        train, normal, attacks = _transformed(data, transform, counts, hours)
        forest, iforest = _rcf_fit(train), _iforest(train)
        ours = {"normal": forest.score(normal)}
        theirs = {"normal": -iforest.score_samples(normal)}  # sklearn: lower = more abnormal
        for kind, rows in attacks.items():
            ours[kind], theirs[kind] = forest.score(rows), -iforest.score_samples(rows)
        if not all(np.isfinite(v).all() for v in ours.values()):
            raise RuntimeError(f"{name}: RCF gave a non-finite score")
        ours["all kinds"] = np.concatenate([ours[k] for k in attacks])
        theirs["all kinds"] = np.concatenate([theirs[k] for k in attacks])
        lines.append(f"  {transform}:")
        for kind in ("all kinds", *attacks):
            pair = _auc(ours["normal"], ours[kind]), _auc(theirs["normal"], theirs[kind])
            point = (
                f"{_operating(ours['normal'], ours[kind], per_day)} | "
                f"{_operating(theirs['normal'], theirs[kind], per_day)}"
            )
            lines.append(
                row(f"  {kind}", f"{pair[0]:.4f} | {pair[1]:.4f}", f"{_verdict(*pair)}; {point}")
            )
    return lines


def _verdict(rcf_auc: float, iforest_auc: float) -> str:
    return "RCF >= IsolationForest" if rcf_auc >= iforest_auc else "below IsolationForest"


def run(quick: bool = False) -> list[str]:
    quick_size = {"train": 5000, "test": 1000, "per_kind": 40}
    lines = speed(quick)
    lines += quality(
        "NetFlow per host-hour (CIDDS-001)",
        netflow_features.dataset_with_hosts(**(quick_size if quick else {"test": 20_000})),
        netflow_features.COUNT_COLUMNS,
        netflow_features.HOUR_COLUMNS,
    )
    lines += quality(
        "DNS per host-hour (CIC-Bell-DNS-EXF-2021)",
        dns_features.dataset_with_hosts(**(quick_size if quick else {"test": 15_000})),
        dns_features.COUNT_COLUMNS,
        (),
    )
    return lines
