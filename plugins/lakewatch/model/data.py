"""Read (entity, address) pairs from headerless CSV: a file, a folder or an S3 prefix.

Bad rows (wrong column count, empty entity, invalid address) are counted by reason and reported
with their file and line number; reading fails only when they exceed ``max_bad_share`` of all
rows, so a damaged file is never silently half-used.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from lakewatch.aws.clients import ClientFactory, require
from lakewatch.aws.s3 import S3Uri, is_s3, list_keys
from lakewatch.model.encoding import Addresses, concat_freeing, entity_hashes, parse_addresses

MAX_EXAMPLES = 20


class BadDataError(ValueError):
    """Too many bad rows to trust the input."""


@dataclass
class BadRows:
    rows: int = 0  # every data line seen, good or bad
    counts: Counter = field(default_factory=Counter)
    examples: list[tuple[str, int | None, str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def share(self) -> float:
        return self.total / self.rows if self.rows else 0.0

    def add(self, source: str, line: int | None, reason: str, text: str) -> None:
        self.counts[reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append((source, line, reason, text[:120]))

    def describe(self) -> list[str]:
        if not self.total:
            return [f"bad rows: 0 of {self.rows:,}"]
        out = [
            f"bad rows: {self.total:,} of {self.rows:,} ({self.share:.2%}): "
            + ", ".join(f"{reason} {n:,}" for reason, n in self.counts.most_common())
        ]
        out += [
            f"  {src}:{line or '?'}: {reason}: {text!r}"
            for src, line, reason, text in self.examples
        ]
        return out

    def to_dict(self) -> dict:
        return {
            "rows": self.rows,
            "bad": self.total,
            "by_reason": dict(self.counts),
            "examples": [
                {"source": s, "line": ln, "reason": r, "text": t} for s, ln, r, t in self.examples
            ],
        }


@dataclass
class Pairs:
    entities: pa.Array | None  # the entity strings (None when read without names)
    entity_hash: np.ndarray  # uint64
    addrs: Addresses
    bad: BadRows
    sources: list[str]
    # name -> hash of every entity read (kept even without ``entities``: a new entity's
    # stand-in is sent to the model by name)
    name_hashes: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.entity_hash)

    def names(self) -> pa.Array:
        if self.entities is None:
            raise ValueError("these pairs were read without their entity names")
        return self.entities

    def take(self, index: np.ndarray) -> Pairs:
        return Pairs(
            None if self.entities is None else self.entities.take(pa.array(index)),
            self.entity_hash[index],
            self.addrs.take(index),
            self.bad,
            self.sources,
            self.name_hashes,
        )


def _manifest_entries(location: str, clients: ClientFactory | None) -> list[str]:
    """The object URIs a SageMaker manifest file lists (``[{"prefix": ...}, "key", ...]``)."""
    if is_s3(location):
        uri = S3Uri.parse(location)
        s3 = require(clients, location)("s3")
        body = s3.get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read()
    else:
        body = Path(location).read_bytes()
    doc = json.loads(body)
    if not doc or not isinstance(doc[0], dict) or "prefix" not in doc[0]:
        raise ValueError(f"{location}: not a SageMaker manifest file")
    prefix = doc[0]["prefix"]
    return [prefix + key for key in doc[1:]]


def iter_sources(location: str, clients: ClientFactory | None) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every CSV under ``location`` (or listed by a ``.manifest`` file)."""
    if location.endswith(".manifest"):
        for entry in _manifest_entries(location, clients):
            yield from iter_sources(entry, clients)
        return
    if is_s3(location):
        s3 = require(clients, location)("s3")
        uri = S3Uri.parse(location)
        keys = [o["Key"] for o in list_keys(s3, uri.bucket, uri.key) if not o["Key"].endswith("/")]
        if not keys:
            raise FileNotFoundError(f"no objects under {location}")
        for key in sorted(keys):
            body = s3.get_object(Bucket=uri.bucket, Key=key)["Body"].read()
            yield f"s3://{uri.bucket}/{key}", body
        return
    path = Path(location)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise FileNotFoundError(f"no files in {location}")
    elif path.is_file():
        files = [path]
    else:
        raise FileNotFoundError(f"no such file or folder: {location}")
    for p in files:
        yield str(p), p.read_bytes()


def read_csv_table(
    name: str, body: bytes, bad: BadRows, exact_columns: bool
) -> tuple[pa.Table, np.ndarray]:
    """The CSV's first two columns (``entity``, ``ip``) and the line number of each row.

    ``exact_columns``: a row must have exactly two columns (training). Otherwise (scoring) any
    row with at least two is used, whatever the first row's width.
    """
    table, invalid = _parse_csv(name, body, exact_columns)
    total = table.num_rows + len(invalid)
    bad.rows += total
    lines = np.arange(1, total + 1, dtype=np.int64)
    if invalid:
        invalid_lines = np.array([r.number for r in invalid if r.number], dtype=np.int64)
        lines = np.setdiff1d(lines, invalid_lines)[: table.num_rows]
    if table.num_columns >= 2:
        entity, ip = table.column(0).cast(pa.string()), table.column(1).cast(pa.string())
    else:  # the first row had one column: every such row is bad
        for line, text in zip(lines, table.column(0).to_pylist(), strict=True):
            bad.add(name, int(line), "expected 2 columns, found 1", str(text))
        entity = ip = pa.chunked_array([], pa.string())
        lines = np.zeros(0, np.int64)
    extra_e, extra_ip, extra_lines = _invalid_rows(name, invalid, bad, exact_columns)
    out = pa.table(
        {
            "entity": pa.concat_arrays([entity.combine_chunks(), pa.array(extra_e, pa.string())]),
            "ip": pa.concat_arrays([ip.combine_chunks(), pa.array(extra_ip, pa.string())]),
        }
    )
    all_lines = np.concatenate([lines, np.array(extra_lines, np.int64)])
    if extra_lines:
        order = np.argsort(all_lines, kind="stable")
        out, all_lines = out.take(pa.array(order)), all_lines[order]
    return out, all_lines


def _parse_csv(name: str, body: bytes, exact_columns: bool) -> tuple[pa.Table, list[pv.InvalidRow]]:
    """The CSV as read, its first two columns as strings, and the rows it skipped: Arrow's
    reader sets aside each row whose width differs from the first row's, for the caller to
    report or recover."""
    stream: pa.NativeFile = pa.BufferReader(body)
    if name.endswith(".gz"):
        stream = pa.CompressedInputStream(stream, "gzip")
    invalid: list[pv.InvalidRow] = []

    def on_invalid(row: pv.InvalidRow) -> str:
        invalid.append(row)
        return "skip"

    names = ["entity", "ip"] if exact_columns else None
    read = pv.ReadOptions(
        use_threads=False,
        block_size=1 << 24,
        column_names=names,
        autogenerate_column_names=not exact_columns,
    )
    first_two = names or ["f0", "f1"]
    convert = pv.ConvertOptions(
        strings_can_be_null=False, column_types={c: pa.string() for c in first_two}
    )
    parse = pv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False)
    try:
        table = pv.read_csv(stream, read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as err:
        if "Empty CSV file" not in str(err):
            raise BadDataError(f"{name}: cannot parse as CSV: {err}") from None
        table = pa.table({"f0": pa.array([], pa.string())})
    return table, invalid


def _invalid_rows(
    name: str, invalid: list[pv.InvalidRow], bad: BadRows, exact_columns: bool
) -> tuple[list[str], list[str], list[int]]:
    """The entity, ip and line number of each skipped row that scoring can still use (two or
    more columns); every other skipped row is recorded in ``bad`` with its width."""
    extra_e: list[str] = []
    extra_ip: list[str] = []
    extra_lines: list[int] = []
    for row in invalid:
        if not exact_columns and row.actual_columns >= 2 and row.text is not None:
            fields = next(csv.reader([row.text]))
            extra_e.append(fields[0])
            extra_ip.append(fields[1])
            extra_lines.append(row.number or 0)
        else:
            want = row.expected_columns if exact_columns else "at least 2"
            bad.add(
                name,
                row.number,
                f"expected {want} columns, found {row.actual_columns}",
                row.text or "",
            )
    return extra_e, extra_ip, extra_lines


PARSE_ROWS = 1 << 20  # rows parsed at once: parsing a whole file's addresses took 5x its size


def _valid_pairs(
    name: str, table: pa.Table, lines: np.ndarray, bad: BadRows, allow_ipv6: bool
) -> tuple[pa.Array, Addresses]:
    """The rows of a parsed CSV slice that make a pair; the others counted in ``bad``."""
    addrs = parse_addresses(table["ip"].combine_chunks(), allow_ipv6=True)
    ent = table["entity"].combine_chunks()
    empty = pc.equal(pc.utf8_trim_whitespace(ent), "").to_numpy(zero_copy_only=False)
    blank = empty & pc.equal(table["ip"].combine_chunks(), "").to_numpy(zero_copy_only=False)
    empty &= ~blank
    invalid = ~empty & ~blank & (addrs.family == 0)
    refused = ~empty & (addrs.family == 6) & (not allow_ipv6)
    for mask, reason in (
        (blank, "empty line"),
        (empty, "empty entity"),
        (invalid, "invalid IP address"),
        (refused, "IPv6 address (the built-in algorithm takes IPv4 only)"),
    ):
        for i in np.flatnonzero(mask):
            bad.add(name, int(lines[i]), reason, f"{ent[int(i)]},{table['ip'][int(i)]}")
    index = np.flatnonzero(~(blank | empty | invalid | refused))
    return ent.take(pa.array(index)), addrs.take(index)


def read_pairs(
    location: str,
    clients: ClientFactory | None = None,
    *,
    allow_ipv6: bool = True,
    max_bad_share: float = 0.01,
    exact_columns: bool = True,
    names: bool = True,
) -> Pairs:
    """Every valid pair under ``location``; raises ``BadDataError`` past ``max_bad_share``.

    Read a file at a time and parsed a slice at a time. ``names=False`` keeps only the
    entities' hashes (training needs nothing else): 25 bytes a pair, whatever the names.
    """
    bad = BadRows()
    entities, hashes, ips, sources = [], [], [], []
    known: dict[str, int] = {}  # each entity hashed once, not once per file
    for name, body in iter_sources(location, clients):
        sources.append(name)
        table, lines = read_csv_table(name, body, bad, exact_columns)
        del body
        for lo in range(0, table.num_rows, PARSE_ROWS):
            ent, addrs = _valid_pairs(
                name, table.slice(lo, PARSE_ROWS), lines[lo : lo + PARSE_ROWS], bad, allow_ipv6
            )
            hashes.append(entity_hashes(ent, known))
            ips.append(addrs)
            if names:
                entities.append(ent)
    if bad.share > max_bad_share:
        raise BadDataError(
            f"{bad.total:,} of {bad.rows:,} rows in {location} are bad ({bad.share:.2%} > "
            f"the allowed {max_bad_share:.2%}):\n" + "\n".join(bad.describe()[1:])
        )
    families: list[np.ndarray] = [a.family for a in ips]
    highs: list[np.ndarray] = [a.hi for a in ips]
    lows: list[np.ndarray] = [a.lo for a in ips]
    del ips
    v6 = any((f == 6).any() for f in families)
    addrs_all = Addresses(
        concat_freeing(families, np.uint8),
        concat_freeing(highs, np.uint64) if v6 else _zeros(sum(len(h) for h in highs)),
        concat_freeing(lows, np.uint64),
    )
    ent_all = (
        (pa.concat_arrays(entities) if entities else pa.array([], pa.string())) if names else None
    )
    return Pairs(ent_all, concat_freeing(hashes, np.uint64), addrs_all, bad, sources, known)


def _zeros(n: int) -> np.ndarray:
    """``n`` zeros that take no memory (a read-only view of one): the upper halves of
    IPv4-only data, 8 bytes a pair that 38M training pairs held as 300 MB."""
    return np.broadcast_to(np.zeros(1, np.uint64), (n,))


def pairs_from_lists(entities: list[str], ips: list[str]) -> Pairs:
    """In-memory pairs (tests, benchmarks); rows with invalid addresses are dropped and counted."""
    ent = pa.array(entities, pa.string())
    addrs = parse_addresses(pa.array(ips, pa.string()))
    keep = np.flatnonzero(addrs.valid)
    bad = BadRows(rows=len(entities))
    for i in np.flatnonzero(~addrs.valid):
        bad.add("<memory>", int(i) + 1, "invalid IP address", f"{entities[i]},{ips[i]}")
    ent = ent.take(pa.array(keep))
    known: dict[str, int] = {}
    return Pairs(ent, entity_hashes(ent, known), addrs.take(keep), bad, ["<memory>"], known)
