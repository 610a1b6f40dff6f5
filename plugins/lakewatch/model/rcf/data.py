"""Feature rows as SageMaker RCF reads them: headerless numeric CSV (``text/csv;label_size=0``).

Parsed by pyarrow at C speed; only a body with a problem is read again line by line, to name
the line. Training refuses the first row with a missing, non-numeric or non-finite value (a
forest cut on NaN would be silently wrong); scoring skips such rows, counts them and keeps
their place (an empty output line), so the output still lines up with the input.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv


class FeatureRowError(ValueError):
    """A training row that cannot be used: names the file, the line and why."""


@dataclass
class Skipped:
    """Scoring rows left out: how many, and the first few (file, line, reason)."""

    rows: int = 0
    examples: list[tuple[str, int, str]] = field(default_factory=list)

    def add(self, source: str, line: int, reason: str) -> None:
        self.rows += 1
        if len(self.examples) < 10:
            self.examples.append((source, line, reason))

    def describe(self) -> list[str]:
        if not self.rows:
            return []
        lines = [f"skipped {self.rows:,} row(s) with a missing or non-finite value"]
        lines += [f"  {src} line {line}: {why}" for src, line, why in self.examples]
        return lines


def _text(name: str, body: bytes) -> bytes:
    return gzip.decompress(body) if name.endswith(".gz") else body


def _fast(body: bytes, width: int | None) -> np.ndarray | None:
    """All rows as float32 when every line is a clean row of ``width`` finite numbers (the
    width of the first row when None); None when anything needs a closer look."""
    try:
        table = pv.read_csv(
            pa.BufferReader(body),
            read_options=pv.ReadOptions(autogenerate_column_names=True),
            parse_options=pv.ParseOptions(newlines_in_values=False),
            convert_options=pv.ConvertOptions(
                column_types={f"f{i}": pa.float64() for i in range(width or 0)},
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, ValueError):
        return None
    if (width is not None and table.num_columns != width) or table.num_columns == 0:
        return None
    columns = []
    for col in table.columns:
        if not pa.types.is_floating(col.type) and not pa.types.is_integer(col.type):
            return None
        if col.null_count:
            return None
        columns.append(col.to_numpy())
    rows = np.column_stack(columns).astype(np.float32) if columns else np.empty((0, 0))
    if not np.isfinite(rows).all() or body.count(b"\n\n") or body.startswith(b"\n"):
        return None
    return rows


def _parse_line(text: str, width: int | None) -> tuple[list[float] | None, str]:
    """(values, "") for a good line; (None, why) for a bad one."""
    fields = text.split(",")
    if width is not None and len(fields) != width:
        return None, f"{len(fields)} value(s), expected {width}"
    values = []
    for i, raw in enumerate(fields, 1):
        if not raw.strip():
            return None, f"value {i} is missing"
        try:
            v = float(raw)
        except ValueError:
            return None, f"value {i} is not a number: {raw.strip()[:40]!r}"
        if not math.isfinite(v):
            return None, f"value {i} is not finite: {raw.strip()!r}"
        values.append(v)
    return values, ""


def _slow(
    name: str, body: bytes, width: int | None, skipped: Skipped | None
) -> tuple[np.ndarray, np.ndarray]:
    """Line by line: (good rows, their 1-based line numbers); a bad line raises unless
    ``skipped`` counts it. Blank lines are neither rows nor errors."""
    rows, numbers = [], []
    for number, raw in enumerate(body.decode("utf-8", "replace").splitlines(), 1):
        if not raw.strip():
            continue
        values, why = _parse_line(raw, width)
        if values is None:
            if skipped is None:
                raise FeatureRowError(f"{name} line {number}: {why}")
            skipped.add(name, number, why)
            continue
        width = width or len(values)
        rows.append(values)
        numbers.append(number)
    matrix = np.array(rows, np.float32).reshape(len(rows), width or 0)
    return matrix, np.array(numbers, np.int64)


def training_rows(name: str, body: bytes, width: int | None = None) -> np.ndarray:
    """Every row of a training file, float32 (rows, width); the first bad row is refused."""
    text = _text(name, body)
    rows = _fast(text, width)
    if rows is None:
        rows, _ = _slow(name, text, width, None)
    return rows


def scoring_rows(
    name: str, body: bytes, width: int, skipped: Skipped
) -> tuple[np.ndarray, np.ndarray, int]:
    """(good rows, their line numbers, the file's line count) of a file to score; bad rows
    are counted in ``skipped``."""
    text = _text(name, body)
    rows = _fast(text, width)
    if rows is not None:
        return rows, np.arange(1, len(rows) + 1), len(rows)
    good, numbers = _slow(name, text, width, skipped)
    return good, numbers, len(text.decode("utf-8", "replace").splitlines())
