"""The real-time scorer: records/s and peak memory from one VPC Flow object to findings.

Each size runs three fresh interpreters so each peak RSS is its own:

- ``prepare``: generate one object of that many rows, train a small model on its pairs, write
  both to a folder (none of this is the scorer's memory);
- ``score``: what the Lambda does and only that: the handler's ``Scorer.process_object`` on
  the object in the emulator's S3 (read the needed columns batch by batch, run the view SQL on
  DuckDB, score distinct pairs through the model server over HTTP, write findings), the
  function warm (a 2,000-row object of the partition processed first, untimed, as a busy
  account's stream keeps it); the model server is its own process, as the SageMaker endpoint
  is on AWS;
- ``read``: the baseline, ``pyarrow.parquet.read_table`` of the same bytes, all columns.

At ``RCF_SIZES`` a fourth interpreter runs ``score`` with the Random Cut Forest step on
(``ScorerConfig.rcf_endpoint_name``: ``Scorer.score_object``'s pair path, then
``RcfObjectScorer.findings`` on the same object), and its peak RSS is printed against the
third's, the pair path alone, of the same run; the RCF step's rows/s is the object's rows over
the time in ``findings``. The RCF model goes the way the pair model goes, through the local
model server (its own process, as the SageMaker endpoint is on AWS, so numba and the forest
are not in the scorer's memory): ``prepare`` fits a small forest (50 trees,
``model.rcf.forest.fit``) and its ``FeatureProfile`` on the object's own feature rows
(``scoring.rcf_rows.object_feature_rows``); ``score`` deploys it on its own endpoint,
publishes the RCF threshold (the 99th percentile of those rows' scores) in the emulator's SSM
and the profile in its S3, where the scorer reads them.

The memory the function needs is the 1M-row peak plus 25% headroom, rounded up to 64 MB;
``bench/results/scorer.json`` keeps it, and a test fails when the configured memory is below.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path

from bench.common import isolated, row

RESULTS = Path(__file__).parent / "results" / "scorer.json"
HEADROOM = 1.25
SIZES = (100_000, 1_000_000, 5_000_000)
# the large object: within LARGE_TARGET_MB, at the nightly threshold's flag rate (at 1%
# its tens of thousands of findings, the output itself, are what it holds); no whole-object
# pyarrow read beside it (all columns of 20M rows: about 23 GB)
LARGE, LARGE_TARGET_MB, NIGHTLY_FPR = 20_000_000, 1024, 0.001
PART_ROWS = 5_000_000  # the most rows generated at once
# the sizes also scored with the RCF step on (--quick: its one size)
RCF_SIZES = (1_000_000, 5_000_000)
RCF_ENDPOINT, RCF_MODEL = "bench-rcf", "rcf-bench"


def prepare(rows: int, folder: str, rcf: bool = False) -> dict:
    from datetime import date, timedelta

    import numpy as np

    from lakewatch.extract.export import PairSet
    from lakewatch.lake.layout import Source, parse_key
    from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
    from lakewatch.lake.write import parquet_bytes
    from lakewatch.model.artifact import ModelArtifact
    from lakewatch.model.data import pairs_from_lists
    from lakewatch.model.hyperparameters import resolve
    from lakewatch.model.inference import Inference as ModelScorer
    from lakewatch.model.train import train
    from lakewatch.scoring.pairs import object_pairs

    out = Path(folder)

    def generated(part_rows: int, part: int):
        start = date(2026, 11, 1)
        gen = LakeGenerator(
            GenerateOptions(
                days=1,
                start=start,
                rows_per_day=int(part_rows / 0.85) * 2,
                accounts=1,
                max_rows_per_object=10**9,
                seed=0,
                # the same account's fleet, another stretch of its day's traffic (a day's
                # stream is keyed by its distance from ``origin``)
                origin=start - timedelta(days=part) if part else None,
            )
        )
        return next(o for o in gen.objects() if o.source is Source.VPC_FLOW)

    # one generated day's object up to PART_ROWS; a larger one is more of the same account's
    # traffic that day in one object, written part by part (the generator holds a part)
    parts = max(1, math.ceil(rows / PART_ROWS))
    obj = generated(rows // parts, 0)
    body = parquet_bytes(obj.table)
    (out / "warm.parquet").write_bytes(parquet_bytes(obj.table.slice(0, 2_000)))
    extracted = object_pairs(body, parse_key(obj.key), PairSet(), "us-east-1").pairs
    total = obj.table.num_rows
    if parts == 1:
        (out / "object.parquet").write_bytes(body)
    else:
        import pyarrow.parquet as pq

        with pq.ParquetWriter(
            out / "object.parquet", obj.table.schema, compression="gzip", compression_level=1
        ) as writer:
            writer.write_table(obj.table, row_group_size=128 * 1024)
            for n in range(1, parts):
                part = generated(rows // parts, n).table
                writer.write_table(part.cast(obj.table.schema), row_group_size=128 * 1024)
                total += part.num_rows
                del part
    pick = np.random.default_rng(0).choice(
        extracted.num_rows, min(200_000, extracted.num_rows), replace=False
    )
    sample = extracted.take(np.sort(pick))
    ents, ips = sample["entity"].to_pylist(), sample["ip"].to_pylist()
    result = train(
        pairs_from_lists(ents, ips),
        resolve({"epochs": 2}, distinct_entities=40),
        log=lambda s: None,
    )
    art = ModelArtifact.from_training(result)
    art.save(out / "model")
    scores = ModelScorer(art).score(ents, ips).dot_product
    return {
        "key": obj.key,
        "rows": total,
        "bytes": (out / "object.parquet").stat().st_size,
        "threshold": float(np.nanquantile(scores, 0.01)),  # a 1% flag rate
        "nightly_threshold": float(np.nanquantile(scores, NIGHTLY_FPR)),
        **(_prepare_rcf(out, obj.key) if rcf else {}),
    }


def _prepare_rcf(out: Path, key: str) -> dict:
    """A small forest and its profile, fitted on the object's own whole hours, written to
    ``rcf/`` (the model server's artifact) and ``features.json``; their 99th percentile score
    is the threshold."""
    import numpy as np
    import pyarrow.compute as pc

    from lakewatch.extract.rcf_features import FEATURES, FeatureProfile
    from lakewatch.lake.layout import parse_key
    from lakewatch.model.rcf.artifact import RcfArtifact
    from lakewatch.model.rcf.forest import fit
    from lakewatch.model.rcf.hyperparameters import RcfHyperparameters
    from lakewatch.scoring.rcf_rows import object_feature_rows, with_usual

    with open(out / "object.parquet", "rb") as f:
        rows = object_feature_rows(f, parse_key(key), "us-east-1")
    whole = rows.filter(pc.fill_null(rows["complete"], False)).drop_columns(["complete"])
    profile = FeatureProfile.fit(whole)
    hp = RcfHyperparameters(feature_dim=len(FEATURES), num_trees=50)
    forest = fit(profile.apply(whole), hp, seed=0)
    RcfArtifact.create(hp, forest, {"rows": whole.num_rows}).save(out / "rcf")
    (out / "features.json").write_text(json.dumps(profile.as_dict()))
    scores = forest.score(profile.apply(with_usual(whole, profile)))
    return {"rcf_threshold": float(np.quantile(scores, 0.99))}


def score(folder: str, key: str, threshold: float, rcf_threshold: float | None = None) -> dict:
    """The handler's path on the object; with ``rcf_threshold``, the RCF step on too."""
    from lakewatch.backends import LocalBackend
    from lakewatch.extract.rcf_features import FEATURES_FILE
    from lakewatch.local import emulator
    from lakewatch.local.endpoints import LocalEndpoints
    from lakewatch.names import artifact_key, rcf_threshold_parameter
    from lakewatch.scoring.events import ObjectRef
    from lakewatch.scoring.process import Scorer, ScorerConfig
    from lakewatch.settings import Settings

    out = Path(folder)
    settings = Settings(
        emulator_port=emulator.free_port(),
        state_dir=out / "state",
        model_server_port=emulator.free_port(),
    )
    emulator.start(settings)
    try:
        clients = LocalBackend(settings).clients()
        LocalBackend(settings).provision(clients)
        # uploaded in parts from the file: the object is never in this process's memory whole
        clients("s3").upload_file(str(out / "object.parquet"), settings.lake_bucket_name, key)
        # a busy account's function is warm: a small object of the same partition first
        # (untimed), so one-time costs (lazy imports, first connections) are not the figure
        warm_key = key.rsplit("/", 1)[0] + "/warm-up.gz.parquet"
        clients("s3").put_object(
            Bucket=settings.lake_bucket_name, Key=warm_key, Body=(out / "warm.parquet").read_bytes()
        )
        endpoints = LocalEndpoints(settings)
        endpoints.deploy(settings.endpoint_name, "bench", out / "model")
        clients("ssm").put_parameter(
            Name=settings.threshold_parameter,
            Type="String",
            Value=json.dumps({"threshold": threshold, "model_id": "bench"}),
        )
        config = ScorerConfig(
            endpoint_name=settings.endpoint_name,
            threshold_parameter=settings.threshold_parameter,
            results_bucket=settings.results_bucket_name,
            lake_bucket=settings.lake_bucket_name,
            rcf_endpoint_name=RCF_ENDPOINT if rcf_threshold is not None else "",
        )
        if rcf_threshold is not None:  # the RCF model, its threshold and profile, published
            endpoints.deploy(RCF_ENDPOINT, RCF_MODEL, out / "rcf")
            clients("ssm").put_parameter(
                Name=rcf_threshold_parameter(settings.threshold_parameter),
                Type="String",
                Value=json.dumps(
                    {"threshold": rcf_threshold, "model_id": RCF_MODEL, "score": "rcf"}
                ),
            )
            clients("s3").put_object(
                Bucket=settings.results_bucket_name,
                Key=artifact_key(config.models_prefix, RCF_MODEL, FEATURES_FILE),
                Body=(out / "features.json").read_bytes(),
            )
        scorer = Scorer(config, clients)
        rcf_seconds = 0.0
        if scorer.rcf is not None:  # the RCF step's own time, for its rows/s
            step = scorer.rcf.findings

            def timed(*args, **kwargs):
                nonlocal rcf_seconds
                began = time.perf_counter()
                try:
                    return step(*args, **kwargs)
                finally:
                    rcf_seconds += time.perf_counter() - began

            scorer.rcf.findings = timed  # type: ignore[method-assign]
        scorer.process_object(ObjectRef(settings.lake_bucket_name, warm_key, None, "s3"))
        rcf_seconds = 0.0
        started = time.perf_counter()
        result = scorer.process_object(ObjectRef(settings.lake_bucket_name, key, None, "s3"))
        seconds = time.perf_counter() - started
        endpoints.processes.stop_all()
    finally:
        emulator.stop(settings)
    return {
        "seconds": seconds,
        "rows": result.rows,
        "pairs": result.pairs,
        "anomalies": result.anomalies,
        "unknown": result.unknown,
        "rcf_seconds": rcf_seconds,
        "rcf_hours": result.rcf_hours,
        "rcf_scored": result.rcf_scored,
        "rcf_findings": result.rcf_findings,
    }


def read(folder: str) -> dict:
    import pyarrow.parquet as pq

    started = time.perf_counter()
    table = pq.read_table(Path(folder) / "object.parquet")
    return {"seconds": time.perf_counter() - started, "rows": table.num_rows}


def memory_setting(peak_mb: float) -> int:
    """Lambda memory (MB) for a measured peak: 25% headroom, in 64 MB steps."""
    return int(math.ceil(peak_mb * HEADROOM / 64) * 64)


def measure(rows: int, nightly: bool = False, baseline: bool = True, rcf: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        made = isolated("bench.scorer", "prepare", rows=rows, folder=tmp, rcf=rcf)
        threshold = made["nightly_threshold" if nightly else "threshold"]
        scored = isolated("bench.scorer", "score", folder=tmp, key=made["key"], threshold=threshold)
        read_ = isolated("bench.scorer", "read", folder=tmp) if baseline else None
        with_rcf = (
            isolated(
                "bench.scorer",
                "score",
                folder=tmp,
                key=made["key"],
                threshold=threshold,
                rcf_threshold=made["rcf_threshold"],
            )
            if rcf
            else None
        )
    if scored["rows"] != made["rows"] or scored["pairs"] == 0:
        raise RuntimeError(f"the scorer read {scored['rows']} of {made['rows']} rows")
    if with_rcf is not None and (with_rcf["rows"] != scored["rows"] or not with_rcf["rcf_scored"]):
        raise RuntimeError(f"the RCF step scored {with_rcf['rcf_scored']} instance-hours")
    return {"object": made, "score": scored, "read": read_, "rcf": with_rcf}


def rcf_lines(rows: int, measured: dict) -> list[str]:
    """The RCF step's lines: its run's peak RSS against the pair path's alone, its rows/s."""
    s, r = measured["score"], measured["rcf"]
    size = f"{rows / 1e6:g}M" if rows >= 1e6 else f"{rows / 1e3:g}k"
    return [
        row(
            f"  scorer + RCF, {size} rows, peak RSS",
            f"{r['peak_rss_mb']:,.0f} MB",
            f"{r['peak_rss_mb'] / s['peak_rss_mb']:.2f}x the pair path alone "
            f"({s['peak_rss_mb']:,.0f} MB)",
        ),
        row(
            f"  scorer + RCF, {size} rows, RCF step rows/s",
            f"{r['rows'] / r['rcf_seconds']:,.0f}",
            f"{r['rcf_seconds']:.1f} s; {r['rcf_scored']:,} of {r['rcf_hours']:,} "
            f"instance-hours whole, scored; {r['rcf_findings']:,} findings",
        ),
    ]


def run(quick: bool = False) -> list[str]:
    sizes = (50_000,) if quick else SIZES
    lines = ["scorer: one VPC Flow object to findings (the handler's path), beside a pyarrow read"]
    measured = {}
    for rows in sizes:
        r = measure(rows, rcf=quick or rows in RCF_SIZES)
        s, b, o = r["score"], r["read"], r["object"]
        rate, base = s["rows"] / s["seconds"], b["rows"] / b["seconds"]
        measured[rows] = s["peak_rss_mb"]
        lines += [
            f"  {s['rows']:,} rows ({o['bytes'] / 1e6:.0f} MB, {s['pairs']:,} distinct pairs; "
            f"{s['anomalies']:,} anomalous, {s['unknown']:,} unknown entities)",
            row(
                "  records/s",
                f"{rate:,.0f}",
                f"{rate / base:.2f}x a plain pyarrow read of the object ({base:,.0f}/s)",
            ),
            row(
                "  peak RSS, MB",
                f"{s['peak_rss_mb']:,.0f}",
                f"the pyarrow read alone: {b['peak_rss_mb']:,.0f} MB; fits a "
                f"{memory_setting(s['peak_rss_mb']):,} MB function",
            ),
        ]
        if r["rcf"] is not None:
            lines += rcf_lines(rows, r)
    if not quick:
        r = measure(LARGE, nightly=True, baseline=False)
        s, o = r["score"], r["object"]
        lines += [
            f"  {s['rows']:,} rows ({o['bytes'] / 1e6:.0f} MB, {s['pairs']:,} distinct pairs; "
            f"{s['anomalies']:,} anomalous at the nightly {NIGHTLY_FPR:.1%} flag rate)",
            row(
                "  records/s", f"{s['rows'] / s['seconds']:,.0f}", "no whole-object read beside it"
            ),
            row(
                "  peak RSS, MB",
                f"{s['peak_rss_mb']:,.0f}",
                f"target {LARGE_TARGET_MB:,} MB: "
                f"{'met' if s['peak_rss_mb'] <= LARGE_TARGET_MB else 'NOT met'}",
            ),
        ]
        measured[LARGE] = s["peak_rss_mb"]
        need = memory_setting(measured[1_000_000])
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(
            json.dumps(
                {
                    "peak_rss_mb": {str(k): round(v) for k, v in measured.items()},
                    "memory_mb_for_1m_rows": need,
                    "headroom": HEADROOM,
                },
                indent=2,
            )
            + "\n"
        )
        lines.append(f"  the function needs {need:,} MB for a 1M-row object ({RESULTS.name})")
    return lines
