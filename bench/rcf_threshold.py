"""The RCF threshold's two rules on held-out normal hours of a synthetic lake:
``python -m bench.rcf_threshold [DAYS TRAIN_DAYS SEED]`` (defaults 10 6 11).

A lake of ``DAYS`` days with no injected anomalies (60,000 rows a day, 3 accounts of 20
instances), its RCF features by ``rcf_features.sql``; a forest of SageMaker's defaults
(100 trees of 256 samples) trained on the first ``TRAIN_DAYS`` days, the rows made by their
profile (``FeatureProfile.apply``); the later days' hours scored and split by day
(``threshold.rcf.split_by_day``), and each rule set on one half and its false-positive rate
read on the other, at targets of 1% and 0.1%. Not one of ``make bench``'s: a measurement
docs/rcf.md quotes."""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from lakewatch.extract import rcf_features as rf
from lakewatch.extract.engine import DuckAthena, LakeLocation
from lakewatch.extract.views import QueryContext
from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
from lakewatch.model.rcf.forest import fit
from lakewatch.model.rcf.hyperparameters import resolve_rcf
from lakewatch.threshold import rcf

START = date(2026, 11, 1)


def measure(days: int, train_days: int, seed: int, root: Path) -> list[str]:
    gen = LakeGenerator(
        GenerateOptions(
            days=days,
            start=START,
            rows_per_day=60_000,
            seed=seed,
            anomalies_per_kind=0,
            security_hub=False,
        )
    )
    for obj in gen.objects():
        path = root / obj.key
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(obj.table, path)
    start = datetime.combine(START, datetime.min.time(), UTC)

    def rows(first: int, last: int):
        ctx = QueryContext(
            region="us-east-1",
            source_version="2.0",
            start=start + timedelta(days=first),
            end=start + timedelta(days=last),
        )
        return DuckAthena(LakeLocation.open(str(root))).query(rf.sql(ctx), ctx)

    train, held = rows(0, train_days), rows(train_days, days)
    profile = rf.FeatureProfile.fit(train)
    matrix = profile.apply(train)
    forest = fit(matrix, resolve_rcf({}, columns=matrix.shape[1]), seed=0)
    scores = forest.score(profile.apply(held))
    skew = float(((scores - scores.mean()) ** 3).mean() / scores.std() ** 3)
    out = [
        f"seed {seed}: {train.num_rows:,} training hours ({train_days} days), "
        f"{held.num_rows:,} held-out hours ({days - train_days} days); held-out scores mean "
        f"{scores.mean():.3f}, sd {scores.std():.3f}, skewness {skew:.2f}"
    ]
    setting, measuring = rcf.split_by_day(scores, held["hour_start"].to_numpy())
    for target in (0.01, 0.001):
        ev = rcf.evaluate_rcf(setting, measuring, target)
        for name, r in ev.rules.items():
            out.append(
                f"  target {target:.1%}  {name:<9} threshold {r.threshold:.4f}  held-out FPR "
                f"{r.heldout_fpr:.3%} (95% {r.fpr_low:.3%}-{r.fpr_high:.3%}, "
                f"{ev.sizes['measuring']:,} hours)"
            )
    return out


def main(argv: list[str]) -> int:
    days, train_days, seed = (int(a) for a in (argv or ["10", "6", "11"]))
    with tempfile.TemporaryDirectory(prefix="lakewatch-rcf-threshold-") as tmp:
        for line in measure(days, train_days, seed, Path(tmp)):
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
