"""Where findings are written, and as what: Parquet in a Security Lake custom-source layout.

``ext/lakewatch/region=<r>/accountId=<a>/eventDay=<YYYYMMDD>/<id>.parquet`` (queryable with
Athena; the DDL: docs/operate.md#findings-in-athena), one file per source object and model, so
reprocessing an object rewrites its file (a threshold re-publish or rollback in between
included). The schema is explicit, so every file of a day has the same columns whatever its
findings hold.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lakewatch.lake.layout import LakeKey
from lakewatch.names import findings_object_key

_S = pa.string()
_I64 = pa.int64()
_I32 = pa.int32()
_ENDPOINT = pa.struct([("ip", _S), ("instance_uid", _S)])
SCHEMA = pa.schema(
    [
        ("activity_id", _I32),
        ("activity_name", _S),
        ("category_uid", _I32),
        ("category_name", _S),
        ("class_uid", _I32),
        ("class_name", _S),
        ("type_uid", _I64),
        ("type_name", _S),
        ("severity_id", _I32),
        ("severity", _S),
        ("status_id", _I32),
        ("status", _S),
        ("time", _I64),
        ("start_time", _I64),
        ("end_time", _I64),
        ("count", _I32),
        ("message", _S),
        (
            "metadata",
            pa.struct(
                [
                    (
                        "product",
                        pa.struct(
                            [
                                ("name", _S),
                                ("vendor_name", _S),
                                ("version", _S),
                                ("feature", pa.struct([("name", _S)])),
                            ]
                        ),
                    ),
                    ("version", _S),
                    ("profiles", pa.list_(_S)),
                    ("uid", _S),
                ]
            ),
        ),
        (
            "finding_info",
            pa.struct(
                [
                    ("uid", _S),
                    ("title", _S),
                    ("desc", _S),
                    ("types", pa.list_(_S)),
                    ("created_time", _I64),
                    ("first_seen_time", _I64),
                    ("last_seen_time", _I64),
                    (
                        "analytic",
                        pa.struct([("name", _S), ("type_id", _I32), ("type", _S), ("uid", _S)]),
                    ),
                    ("data_sources", pa.list_(_S)),
                ]
            ),
        ),
        (
            "cloud",
            pa.struct([("provider", _S), ("region", _S), ("account", pa.struct([("uid", _S)]))]),
        ),
        (
            "resources",
            pa.list_(
                pa.struct([("uid", _S), ("type", _S), ("cloud_partition", _S), ("region", _S)])
            ),
        ),
        (
            "observables",
            pa.list_(pa.struct([("name", _S), ("type", _S), ("type_id", _I32), ("value", _S)])),
        ),
        (
            "evidences",
            pa.list_(
                pa.struct(
                    [
                        ("src_endpoint", _ENDPOINT),
                        ("dst_endpoint", _ENDPOINT),
                        ("data", pa.map_(_S, _S)),
                        # a sign-in's principal and MFA (scoring.signin_findings); last, so a
                        # file without it reads the same by name
                        (
                            "actor",
                            pa.struct(
                                [
                                    ("user", pa.struct([("uid", _S), ("name", _S)])),
                                    ("session", pa.struct([("is_mfa", pa.bool_())])),
                                ]
                            ),
                        ),
                    ]
                )
            ),
        ),
        ("unmapped", pa.map_(_S, _S)),
    ]
)


def to_parquet(findings: list[dict[str, Any]]) -> bytes:
    rows = []
    for f in findings:
        row = dict(f)
        row["evidences"] = [
            {**ev, "data": list(ev.get("data", {}).items())} for ev in f["evidences"]
        ]
        row["unmapped"] = list(f["unmapped"].items())
        rows.append(row)
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def findings_key(prefix: str, source: LakeKey, model_id: str) -> str:
    """One file per source object and model: reprocessing rewrites it, never adds a copy,
    whatever happened to the threshold in between (a re-publish, a rollback)."""
    return findings_object_key(
        prefix, source.region, source.account_id, source.event_day, source.key, model_id
    )
