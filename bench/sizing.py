"""The sizing model's per-unit figures, measured on the synthetic lake (``docs/scale.md``).

One day of a generated lake, each object written as the lake writes it (GZIP Parquet); from
each object's Parquet metadata:

- the bytes of a lake row (the whole object over its rows), by source;
- the bytes Athena scans per row for each view: Athena bills the compressed bytes of the
  columns a query reads, so the sum of ``total_compressed_size`` over the leaf columns the
  view's SQL reads (``lakewatch.serving.sizing.VIEW_COLUMNS``, which a test holds equal to
  the SQL), over the rows;

and from the scorer's own pair extraction (``scoring.pairs.object_pairs``) on each object:

- the kept candidate pairs per row, by view (what a day's extract exports for training: one
  line per record), and their CSV bytes a line;
- the distinct pairs per row, by view, of one object (what the scorer sends the endpoint) and
  of the day (what a distinct-per-day training set would hold).

Each figure is printed beside the constant ``lakewatch/serving/sizing.py`` records, as the
ratio measured/recorded: a ratio far from 1.00 means the constant needs re-recording. The
figures are the synthetic lake's, not a customer's (see docs/scale.md).
"""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date

from bench.common import isolated, row


def _leaf(path: str) -> str:
    """A Parquet leaf path as the SQL names it: ``answers.list.element.rdata`` ->
    ``answers.rdata``."""
    return path.replace(".list.element", "").replace(".list.item", "")


def measure(rows_per_day: int, accounts: int) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from lakewatch.extract.export import PairSet
    from lakewatch.lake.layout import Source, parse_key
    from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
    from lakewatch.lake.write import parquet_bytes
    from lakewatch.scoring.pairs import ENCODED, object_pairs
    from lakewatch.serving.sizing import VIEW_COLUMNS

    gen = LakeGenerator(
        GenerateOptions(
            days=1,
            start=date(2026, 11, 1),
            rows_per_day=rows_per_day,
            accounts=accounts,
            max_rows_per_object=10**9,
        )
    )
    rows: dict[str, int] = defaultdict(int)
    body_bytes: dict[str, int] = defaultdict(int)
    leaf_bytes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    kept: dict[str, int] = defaultdict(int)
    object_distinct: dict[str, int] = defaultdict(int)
    csv_bytes = csv_lines = objects = 0
    day_pairs: list[pa.Table] = []
    for obj in gen.objects():
        if obj.source not in (Source.VPC_FLOW, Source.ROUTE53):
            continue
        source = obj.source.value
        body = parquet_bytes(obj.table)
        meta = pq.ParquetFile(io.BytesIO(body)).metadata
        objects += 1
        rows[source] += meta.num_rows
        body_bytes[source] += len(body)
        for i in range(meta.num_row_groups):
            group = meta.row_group(i)
            for j in range(group.num_columns):
                column = group.column(j)
                leaf_bytes[source][_leaf(column.path_in_schema)] += column.total_compressed_size
        pairs = object_pairs(body, parse_key(obj.key), PairSet(), "us-east-1").pairs
        ok = pairs.filter(pc.equal(pairs["status"], "ok"))
        ok = ok.cast(
            pa.schema([f.with_type(pa.string()) if f.name in ENCODED else f for f in ok.schema])
        )
        for view, n in zip(ok["view"].to_pylist(), ok["event_time_count"].to_pylist(), strict=True):
            kept[view] += n
            object_distinct[view] += 1
        counts = ok["event_time_count"]
        line = pc.add(
            pc.add(pc.utf8_length(ok["entity"]), pc.utf8_length(ok["ip"])), 2
        )  # "entity,ip\n"
        csv_bytes += pc.sum(pc.multiply(line, counts)).as_py() or 0
        csv_lines += pc.sum(counts).as_py() or 0
        day_pairs.append(ok.select(["entity", "ip", "view"]))
    day = pa.concat_tables(day_pairs).group_by(["entity", "ip", "view"]).aggregate([])
    day_distinct: dict[str, int] = defaultdict(int)
    for view in day["view"].to_pylist():
        day_distinct[view] += 1
    scan = {
        scan_name: {
            source.value: sum(leaf_bytes[source.value].get(c, 0) for c in columns)
            / max(rows[source.value], 1)
            for source, columns in by_source.items()
        }
        for scan_name, by_source in VIEW_COLUMNS.items()
    }
    missing = {
        f"{source.value}:{c}"
        for by_source in VIEW_COLUMNS.values()
        for source, columns in by_source.items()
        for c in columns
        if c not in leaf_bytes[source.value]
    }
    if missing or not rows[Source.VPC_FLOW.value] or not csv_lines:
        raise RuntimeError(f"nothing measured, or columns not in the lake: {sorted(missing)}")
    return {
        "objects": objects,
        "rows": dict(rows),
        "bytes_per_row": {s: body_bytes[s] / rows[s] for s in rows},
        "scan_bytes_per_row": scan,
        "kept": dict(kept),
        "object_distinct": dict(object_distinct),
        "day_distinct": dict(day_distinct),
        "csv_bytes_per_pair": csv_bytes / csv_lines,
    }


def _ratio(measured: float, recorded: float) -> str:
    return f"{measured / recorded:.2f}x the recorded {recorded:,.3g}" if recorded else ""


def run(quick: bool = False) -> list[str]:
    from lakewatch.extract.views import View
    from lakewatch.lake.layout import Source
    from lakewatch.serving import sizing as model

    rows_per_day, accounts = (60_000, 2) if quick else (2_000_000, 4)
    m = isolated("bench.sizing", "measure", rows_per_day=rows_per_day, accounts=accounts)
    flow, dns = Source.VPC_FLOW.value, Source.ROUTE53.value
    n_flow, n_dns = m["rows"][flow], m["rows"][dns]
    size = "quick" if quick else "full"
    lines = [
        f"sizing ({size}): per-unit figures of one synthetic lake day, {n_flow:,} VPC Flow and "
        f"{n_dns:,} Route 53 rows in {m['objects']} objects (ratio: measured / recorded in "
        "serving/sizing.py)",
        row(
            "lake bytes per VPC Flow row",
            f"{m['bytes_per_row'][flow]:.1f}",
            _ratio(m["bytes_per_row"][flow], model.FLOW_BYTES_PER_ROW.value),
        ),
        row(
            "lake bytes per Route 53 row",
            f"{m['bytes_per_row'][dns]:.1f}",
            _ratio(m["bytes_per_row"][dns], model.ROUTE53_BYTES_PER_ROW.value),
        ),
    ]
    for scan_name, by_source in m["scan_bytes_per_row"].items():
        for source, per_row in by_source.items():
            recorded = model.SCAN_BYTES_PER_ROW[scan_name][Source(source)].value
            lines.append(
                row(
                    f"Athena scan bytes/row, {scan_name} ({source})",
                    f"{per_row:.2f}",
                    _ratio(per_row, recorded),
                )
            )
    per_source = {View.EGRESS_PEER: n_flow, View.INGRESS_PEER: n_flow, View.DNS_ANSWER: n_dns}
    for view, source_rows in per_source.items():
        for label, counts, recorded in (
            ("kept pairs/row", m["kept"], model.KEPT_PAIRS_PER_ROW),
            ("distinct/row, object", m["object_distinct"], model.OBJECT_DISTINCT_PER_ROW),
            ("distinct/row, day", m["day_distinct"], model.DAY_DISTINCT_PER_ROW),
        ):
            share = counts.get(view, 0) / source_rows
            lines.append(
                row(f"{label}, {view}", f"{share:.4f}", _ratio(share, recorded[view].value))
            )
    lines.append(
        row(
            "training CSV bytes per pair",
            f"{m['csv_bytes_per_pair']:.1f}",
            _ratio(m["csv_bytes_per_pair"], model.CSV_BYTES_PER_PAIR.value),
        )
    )
    return lines
