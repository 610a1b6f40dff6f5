"""RCF on the synthetic lake's own features: ``python -m bench.rcf_lake [--quick]``.

Not one of ``python -m bench``'s benchmarks (it measures detection, not speed): docs/rcf.md
has its figures and the command. Writes a lake (seed 7): quiet training days (no injected
events), then live days with the RCF kinds injected (``--per-kind`` events of each a day; the
other kinds' rows dropped), extracts ``include/sql/rcf_features.sql`` on DuckDB for each unit
(the SQL's hour, or its bucket replaced by 10 minutes or a day), trains lakewatch's RCF (100
trees x 256 samples, the rows made by ``FeatureProfile`` of the training rows, ``--transform``:
``deviation``, each instance's deviation from its usual unit, the default, or ``fleet``, one
z-score of the absolute values) on all but the last ``--held-out`` training days, and reports,
per unit:

- AUC and TPR at 0.1% and 1% FPR of each RCF kind's instance-units against the live days'
  normal instance-units (those with no labelled row), and the AUC against the held-out quiet
  days' units (the day unit has few live normal units: most instance-days hold an event, so
  the held-out days stand in for them);
- thresholds from the held-out days' scores (the target-FPR quantile, and mean + 3 sd as
  SageMaker suggests) and the FPR each actually gives on the live normal units;
- across units, a like-for-like figure: the share of each kind's events with a unit above the
  threshold that gives one false alarm a day over the fleet (the normal scores' 1 - 1/(units
  a day) quantile), as units of different lengths have different numbers of rows a day;
- the nightly rule's operating point (``threshold.rcf.quantile_threshold`` of the held-out
  days' scores at 0.1% and 1%, as ``lakewatch_rcf_recalibrate`` sets it): the live normal
  units' FPR and false alarms a day, each kind's events found (any unit above it), and the
  incidents' precision (an incident: an event found, or a run of consecutive flagged normal
  units of one instance).

A unit is injected for a kind when a labelled row of that kind (either side's) falls in it.
"""

from __future__ import annotations

import argparse
import pickle
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from lakewatch.extract import rcf_features as rf
from lakewatch.extract.engine import DuckAthena, LakeLocation
from lakewatch.extract.views import QueryContext
from lakewatch.lake.synthetic import RCF_KINDS, GenerateOptions, LakeGenerator
from lakewatch.lake.write import parquet_bytes
from lakewatch.model.rcf.forest import fit
from lakewatch.model.rcf.hyperparameters import RcfHyperparameters
from lakewatch.threshold.rcf import quantile_threshold

START = date(2026, 11, 1)
UNITS = {"10 minutes": 600_000, "hour": 3_600_000, "day": 86_400_000}
FPRS = (0.001, 0.01)
LABELS = "labels.pkl"  # the live days' labels, beside the lake (for --lake)


def write_lake(
    root: Path,
    train_days: int,
    live_days: int,
    per_kind: int,
    scale: int,
    rows: int = 200_000,
    churn: float = 0.0,
    seed: int = 7,
) -> list:
    """The lake's objects on disk; returns the live days' labels."""
    common = dict(
        seed=seed,
        accounts=3,
        instances_per_account=20 * scale,
        rows_per_day=rows * scale,
        churn=churn,
    )
    quiet = GenerateOptions(days=train_days, start=START, anomalies_per_kind=0, **common)
    live = GenerateOptions(
        days=live_days,
        start=START + timedelta(days=train_days),
        anomalies_per_kind=per_kind,
        rcf_anomalies=True,
        **common,
    )
    labels = []
    for options in (quiet, live):
        for obj in LakeGenerator(options).objects():
            # only the RCF kinds: the other kinds' rows are left out of the live days, so an
            # instance-unit is normal or holds RCF rows, and a quiet day is a fair stand-in
            keep = np.ones(obj.table.num_rows, dtype=bool)
            keep[[x.row for x in obj.labels if x.kind not in RCF_KINDS]] = False
            path = root / obj.key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(parquet_bytes(obj.table.filter(pa.array(keep))))
            labels.extend(x for x in obj.labels if x.kind in RCF_KINDS)
    return labels


def features(root: Path, start: date, end: date, unit_ms: int, subnets: bool = True):
    """(keys, feature rows) of every instance-unit from ``start`` to ``end`` (exclusive);
    ``subnets`` False drops the rows' subnet (a new instance then takes the fleet's usual)."""
    ctx = QueryContext(
        region="us-east-1",
        source_version="2.0",
        start=datetime(start.year, start.month, start.day, tzinfo=UTC),
        end=datetime(end.year, end.month, end.day, tzinfo=UTC),
    )
    sql = rf.sql(ctx).replace('"time" % 3600000', f'"time" % {unit_ms}')
    table = DuckAthena(LakeLocation.open(str(root))).query(sql, ctx)
    # the unit's hour of day, floored (the SQL's cast rounds 23:50 up to 24)
    hour = (np.asarray(table["hour_start"]) % 86_400_000) // 3_600_000
    table = table.set_column(
        table.column_names.index("hour_of_day"), "hour_of_day", pa.array(hour, pa.int32())
    )
    if not subnets:
        table = table.drop_columns([rf.SUBNET_COLUMN])
    keys = list(zip(table["instance"].to_pylist(), table["hour_start"].to_pylist(), strict=True))
    return keys, table


def _auc(normal: np.ndarray, anomalous: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.zeros(normal.size), np.ones(anomalous.size)]
    return float(roc_auc_score(y, np.r_[normal, anomalous]))


def _tpr(normal: np.ndarray, anomalous: np.ndarray, fpr: float) -> float:
    """Share of anomalous scores above the normal scores' (1 - fpr) quantile."""
    return float((anomalous > np.quantile(normal, 1 - fpr)).mean())


def measure(
    root: Path,
    train_days: int,
    live_days: int,
    held_days: int,
    labels: list,
    transform: str = rf.DEVIATION,
    units: tuple[str, ...] = tuple(UNITS),
    subnets: bool = True,
) -> list[str]:
    first_live = START + timedelta(days=train_days)
    held_out = first_live - timedelta(days=held_days)
    end = first_live + timedelta(days=live_days)
    lines = []
    for unit in units:
        unit_ms = UNITS[unit]
        started = time.perf_counter()
        _, train_raw = features(root, START, held_out, unit_ms, subnets)
        _, held_raw = features(root, held_out, first_live, unit_ms, subnets)
        live_keys, live_raw = features(root, first_live, end, unit_ms, subnets)
        profile = rf.FeatureProfile.fit(train_raw, transform=transform)
        train = profile.apply(train_raw).astype(np.float32)
        hp = RcfHyperparameters(feature_dim=train.shape[1], num_trees=100, num_samples_per_tree=256)
        forest = fit(train, hp, seed=0)
        held = forest.score(profile.apply(held_raw).astype(np.float32))
        live = forest.score(profile.apply(live_raw).astype(np.float32))
        kinds: dict[tuple, set[str]] = defaultdict(set)
        events: dict[tuple, set[str]] = defaultdict(set)
        for x in labels:
            key = (x.entity.removesuffix("/in"), x.time - x.time % unit_ms)
            kinds[key].add(x.kind)
            events[key].add(x.event_id)
        touched = np.array([bool(kinds.get(k)) for k in live_keys])
        normal = live[~touched]
        note = ""
        if normal.size < 100:  # the day unit: nearly every live instance-day holds a label
            normal, note = held, " (too few live normal rows: the held-out ones stand in)"
        lines.append(
            f"unit {unit} ({transform}): {len(train):,} training rows "
            f"({train_days - held_days} quiet days), "
            f"{held.size:,} held-out normal rows ({held_days} quiet days from {held_out}), "
            f"{normal.size:,} live normal rows ({live_days} days, {live.size:,} in all); "
            f"{time.perf_counter() - started:.0f}s{note}"
        )
        lines.append(
            f"  {'kind':<22} {'units':>6} {'AUC':>7} {'TPR@0.1%':>9} {'TPR@1%':>8} "
            f"{'AUC vs held-out':>16} {'events at 1 false alarm/day':>28}"
        )
        one_a_day = np.quantile(normal, 1 - live_days / live.size)
        best: dict[str, float] = {}
        for k, score in zip(live_keys, live, strict=True):
            for event in events.get(k, ()):
                best[event] = max(best.get(event, -np.inf), float(score))
        every = []
        for kind in RCF_KINDS:
            mine = np.array([kind in kinds.get(k, ()) for k in live_keys])
            every.append(mine)
            found = [v > one_a_day for e, v in best.items() if f"-{kind}-" in e]
            lines.append(_line(kind, normal, held, live[mine], found))
        s = live[np.any(every, axis=0)]
        found = [v > one_a_day for e, v in best.items() if "-rcf_" in e]
        lines.append(_line("all rcf_ kinds", normal, held, s, found))
        rules = {f"quantile {1 - f:.3f}": np.quantile(held, 1 - f) for f in FPRS}
        rules["mean + 3 sd"] = held.mean() + 3 * held.std()
        picked = " | ".join(
            f"{name}: {t:.3f} -> FPR {(normal > t).mean():.4f}, TPR {(s > t).mean():.3f}"
            for name, t in rules.items()
        )
        lines.append(f"  thresholds from the held-out day, on the live normal rows: {picked}")
        lines += _nightly(live_keys, live, touched, held, best, live_days, unit_ms)
        lines += _new_instances(profile, live_keys, live, touched, held, held_raw, events)
    return lines


def _new_instances(profile, keys, live, touched, held, held_raw, events) -> list[str]:
    """Instances the profile does not know (churn's replacements) against the known ones: the
    false-positive rate of each's normal units at the nightly thresholds, held-out and live,
    and the events on new instances found."""
    new = np.array([k[0] not in profile.usual for k in keys])
    held_new = np.array([str(i) not in profile.usual for i in held_raw["instance"].to_pylist()])
    if not new.any() and not held_new.any():
        return ["  new instances: none (no churn)"]
    out = []
    for target in FPRS:
        t = quantile_threshold(held, target)
        rates = []
        for name, scores, mask in (
            ("held-out", held, held_new),
            ("live normal", live[~touched], new[~touched]),
        ):
            rates.append(
                f"{name} FPR new {(scores[mask] > t).mean() if mask.any() else float('nan'):.4f} "
                f"({int(mask.sum()):,} units) / old {(scores[~mask] > t).mean():.4f}"
            )
        found: dict[str, bool] = {}
        for k, s, is_new in zip(keys, live, new, strict=True):
            for event in events.get(k, ()):
                if is_new:
                    found[event] = found.get(event, False) or bool(s > t)
        out.append(
            f"  new instances at {target:.2%}: {'; '.join(rates)}; events on new instances "
            f"found {sum(found.values())}/{len(found)}"
        )
    return out


def _nightly(keys, live, touched, held, best, live_days: int, unit_ms: int) -> list[str]:
    """The nightly rule's threshold at each target: FPR, false alarms a day, events found per
    kind, incident precision."""
    out = []
    normal = live[~touched]
    for target in FPRS:
        t = quantile_threshold(held, target)
        flagged = sorted(
            k for k, s, bad in zip(keys, live, touched, strict=True) if s > t and not bad
        )
        false_incidents, previous = 0, None
        for instance, start in flagged:  # a run of consecutive flagged units is one incident
            if previous is None or previous != (instance, start - unit_ms):
                false_incidents += 1
            previous = (instance, start)
        per_kind = []
        for kind in RCF_KINDS:
            found = [v > t for e, v in best.items() if f"-{kind}-" in e]
            per_kind.append(f"{kind} {sum(found)}/{len(found)}")
        found = sum(v > t for v in best.values())
        precision = found / max(found + false_incidents, 1)
        out.append(
            f"  nightly quantile at {target:.2%}: threshold {t:.3f} (held-out), live FPR "
            f"{(normal > t).mean():.4f}, {len(flagged) / live_days:.1f} false alarms a day of "
            f"{normal.size / live_days:,.0f} normal units; events found {found}/{len(best)} "
            f"({', '.join(per_kind)}); incident precision {precision:.2f} "
            f"({false_incidents} false incidents)"
        )
    return out


def _line(kind: str, normal: np.ndarray, held: np.ndarray, s: np.ndarray, found) -> str:
    return (
        f"  {kind:<22} {s.size:>6} {_auc(normal, s):>7.4f} "
        f"{_tpr(normal, s, 0.001):>9.3f} {_tpr(normal, s, 0.01):>8.3f} {_auc(held, s):>16.4f} "
        f"{f'{sum(found)} of {len(found)}':>28}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rcf_lake")
    parser.add_argument("--out", default="/tmp/lakewatch-rcf-lake", help="where the lake goes")
    parser.add_argument("--train-days", type=int, default=12, help="quiet days, held-out included")
    parser.add_argument("--held-out", type=int, default=4, help="quiet days not trained on")
    parser.add_argument("--live-days", type=int, default=10)
    parser.add_argument("--per-kind", type=int, default=4, help="events of each kind a day")
    parser.add_argument("--scale", type=int, default=1, help="instances and rows x this")
    parser.add_argument(
        "--rows-per-day", type=int, default=200_000, help="rows a day (make demo: 40,000)"
    )
    parser.add_argument("--quick", action="store_true", help="a small lake, a smoke run")
    parser.add_argument(
        "--transform",
        choices=rf.TRANSFORMS,
        default=rf.DEVIATION,
        help="how the profile makes the model's rows (docs/rcf.md)",
    )
    parser.add_argument(
        "--lake", help="an existing lake from an earlier run (with its --out's labels.pkl)"
    )
    parser.add_argument(
        "--churn", type=float, default=0.0, help="share of instances replaced a day (the lake's)"
    )
    parser.add_argument("--units", nargs="+", choices=list(UNITS), default=list(UNITS))
    parser.add_argument("--seed", type=int, default=7, help="the lake's seed")
    parser.add_argument(
        "--no-subnets",
        action="store_true",
        help="drop the rows' subnet: new instances measured against the fleet, as before",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.train_days, args.live_days, args.per_kind, args.held_out = 3, 1, 3, 1
    started = time.perf_counter()
    if args.lake:  # the same lake again (another --transform): the labels kept beside it
        root = Path(args.lake)
        labels = pickle.loads((root / LABELS).read_bytes())
    else:
        root = Path(args.out)
        if root.exists() and any(root.iterdir()):
            raise SystemExit(f"{root} is not empty")
        labels = write_lake(
            root,
            args.train_days,
            args.live_days,
            args.per_kind,
            args.scale,
            args.rows_per_day,
            args.churn,
            args.seed,
        )
        (root / LABELS).write_bytes(pickle.dumps(labels))
    print(f"lake: {root}, written in {time.perf_counter() - started:.0f}s, seed {args.seed}")
    lines = measure(
        root,
        args.train_days,
        args.live_days,
        args.held_out,
        labels,
        args.transform,
        tuple(args.units),
        subnets=not args.no_subnets,
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
