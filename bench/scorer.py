"""The real-time scorer: records/s from one 1M-row object to findings, beside a pyarrow read.

Real path: the object in the emulator's S3, the handler's ``Scorer.process_object`` (read the
needed columns, run the view SQL on DuckDB, score distinct pairs through a model server over
HTTP, write findings). Baseline: ``pyarrow.parquet.read_table`` of the same bytes, all columns.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.common import isolated, row


def measure(rows: int) -> dict:
    import numpy as np
    import pyarrow.parquet as pq

    from lakewatch.aws.clients import local_runtime_clients
    from lakewatch.extract.export import PairSet
    from lakewatch.lake.generator import GenerateOptions, LakeGenerator
    from lakewatch.lake.layout import Source, parse_key
    from lakewatch.lake.write import parquet_bytes
    from lakewatch.local import emulator
    from lakewatch.local.bootstrap import bootstrap
    from lakewatch.model.artifact import ModelArtifact
    from lakewatch.model.data import pairs_from_lists
    from lakewatch.model.hyperparameters import resolve
    from lakewatch.model.scorer import Scorer as ModelScorer
    from lakewatch.model.train import train
    from lakewatch.scoring.events import ObjectRef
    from lakewatch.scoring.pairs import object_pairs
    from lakewatch.scoring.process import Scorer, ScorerConfig
    from lakewatch.serving.local import LocalEndpoints
    from lakewatch.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            emulator_port=emulator.free_port(),
            state_dir=Path(tmp),
            model_server_port=emulator.free_port(),
        )
        emulator.start(settings)
        try:
            clients = local_runtime_clients(settings)
            bootstrap(settings, clients)
            # one big VPC object: one account, one slice of a day
            gen = LakeGenerator(
                GenerateOptions(
                    days=1,
                    start=date(2026, 11, 1),
                    rows_per_day=int(rows / 0.85) * 2,
                    accounts=1,
                    max_rows_per_object=10**9,
                )
            )
            obj = next(o for o in gen.objects() if o.source is Source.VPC_FLOW)
            body = parquet_bytes(obj.table)
            clients("s3").put_object(Bucket=settings.lake_bucket_name, Key=obj.key, Body=body)
            extracted = object_pairs(body, parse_key(obj.key), PairSet(), "us-east-1").pairs
            # train on a sample of every view (the pairs come grouped by view)
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
            model_dir = Path(tmp) / "model"
            art.save(model_dir)
            endpoints = LocalEndpoints(settings)
            endpoints.deploy(settings.endpoint_name, "bench", model_dir)
            scores = ModelScorer(art).score(ents, ips).dot_product
            threshold = float(np.nanquantile(scores, 0.01))  # a 1% flag rate
            clients("ssm").put_parameter(
                Name=settings.threshold_parameter,
                Type="String",
                Value=json.dumps({"threshold": threshold, "model_id": "bench"}),
            )
            scorer = Scorer(
                ScorerConfig(
                    settings.endpoint_name,
                    settings.threshold_parameter,
                    settings.results_bucket_name,
                ),
                clients,
            )
            started = time.perf_counter()
            out = scorer.process_object(ObjectRef(settings.lake_bucket_name, obj.key, None, "s3"))
            seconds = time.perf_counter() - started
            started = time.perf_counter()
            pq.read_table(io.BytesIO(body))
            read = time.perf_counter() - started
            endpoints.processes.stop_all()
        finally:
            emulator.stop(settings)
    return {
        "rows": out.rows,
        "pairs": out.pairs,
        "seconds": seconds,
        "read_seconds": read,
        "bytes": len(body),
        "anomalies": out.anomalies,
        "unknown": out.unknown,
    }


def run(quick: bool = False) -> list[str]:
    r = isolated("bench.scorer", "measure", rows=200_000 if quick else 1_000_000)
    rate, base = r["rows"] / r["seconds"], r["rows"] / r["read_seconds"]
    return [
        f"scorer ({r['rows']:,}-row VPC Flow object, {r['bytes'] / 1e6:.0f} MB, "
        f"{r['pairs']:,} distinct pairs; findings: {r['anomalies']:,} anomalous pairs, "
        f"{r['unknown']:,} unknown entities)",
        row(
            "object to findings, records/s",
            f"{rate:,.0f}",
            f"{rate / base:.2f}x a plain pyarrow read of the object ({base:,.0f}/s)",
        ),
        row("peak RSS, MB", f"{r['peak_rss_mb']:,.0f}"),
    ]
