"""Daily pair extracts on S3: headerless ``entity,ip`` CSV parts published by a manifest.

Layout under the results bucket (keys derive from the data interval, so a rerun writes the
same place)::

    extracts/source_version=2.0/pairs=<views>[+ipv6]/day=2026-11-01/
        manifest.json                       <- written last: the publish step
        attempt=<id>/train.csv, validation.csv   (or Athena UNLOAD's split=<x>/ parts)

Readers follow ``manifest.json`` only, so a half-written attempt is never seen; after a new
manifest is published the parts of the attempt it replaced are deleted.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa

from lakewatch.extract.views import DEFAULT_VIEWS, check_views
from lakewatch.lake.sink import ObjectStore
from lakewatch.names import extract_day_prefix, extract_manifest_key

SPLITS = ("train", "validation")
DROP_REASONS = {
    "ipv6": "IPv6 address (the built-in algorithm takes IPv4 only)",
    "dash": "'-' entity or address (NAT/Lambda/Fargate ENI, NODATA)",
    "malformed": "malformed address",
    "unknown_version": "sign-in record of an OCSF version the reader does not know",
    "no_address": "sign-in record without a source address",
    "service": "sign-in whose source is an AWS service's name, not an address",
    "unknown_actor": "sign-in by an actor lakewatch names no principal for",
}


@dataclass(frozen=True)
class PairSet:
    """Which views, and whether IPv6 pairs are kept (lakewatch's model takes them)."""

    views: tuple[str, ...] = DEFAULT_VIEWS
    include_ipv6: bool = False

    def __post_init__(self):
        object.__setattr__(self, "views", check_views(tuple(self.views)))

    @classmethod
    def from_key(cls, key: str) -> PairSet:
        parts = key.split("+")
        return cls(tuple(p for p in parts if p != "ipv6"), "ipv6" in parts)

    @property
    def key(self) -> str:
        return "+".join(sorted(self.views)) + ("+ipv6" if self.include_ipv6 else "")

    @property
    def keep(self) -> tuple[str, ...]:
        return ("ok", "ipv6") if self.include_ipv6 else ("ok",)


def day_prefix(extracts_prefix: str, source_version: str, pair_set: PairSet, day: date) -> str:
    return extract_day_prefix(extracts_prefix, source_version, pair_set.key, day)


@dataclass
class ExtractSummary:
    """What one day's extract holds: counts, drops by reason, and its published parts."""

    day: str
    pair_set: str
    source_version: str
    rows: int = 0
    entities: int = 0
    by_view: dict[str, dict[str, int]] = field(default_factory=dict)  # view -> status -> rows
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows
    split_rows: dict[str, int] = field(default_factory=dict)
    parts: dict[str, list[str]] = field(default_factory=dict)  # split -> keys
    attempt: str = ""
    engine: str = ""
    queries: list[str] = field(default_factory=list)
    created: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ExtractSummary:
        return cls(**{k: v for k, v in doc.items() if k in cls.__dataclass_fields__})

    def log_lines(self) -> list[str]:
        lines = [
            f"{self.day}: {self.rows:,} pairs kept, {self.entities:,} entities "
            f"({', '.join(f'{k} {v:,}' for k, v in self.split_rows.items())})"
        ]
        for view, statuses in sorted(self.by_view.items()):
            lines.append(
                f"  {view}: " + ", ".join(f"{s} {n:,}" for s, n in sorted(statuses.items()))
            )
        if self.dropped:
            lines.append(
                "  dropped: "
                + "; ".join(f"{n:,} {reason}" for reason, n in sorted(self.dropped.items()))
            )
        return lines

    def asset_metadata(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "rows": self.rows,
            "entities": self.entities,
            "dropped": self.dropped,
            "split_rows": self.split_rows,
            "pairs": self.pair_set,
            "source_version": self.source_version,
        }


def summarize_counts(counts: pa.Table, keep: tuple[str, ...], summary: ExtractSummary) -> None:
    """Fill counts and drops from ``counts.sql``'s (view, status, rows, entities) rows."""
    by_view: dict[str, dict[str, int]] = {}
    dropped: Counter = Counter()
    for row in counts.to_pylist():
        by_view.setdefault(row["view"], {})[row["status"]] = int(row["rows"])
        if row["status"] not in keep:
            dropped[DROP_REASONS.get(row["status"], row["status"])] += int(row["rows"])
    summary.by_view, summary.dropped = by_view, dict(dropped)


def read_manifest(store: ObjectStore, prefix: str) -> ExtractSummary | None:
    try:
        return ExtractSummary.from_json(json.loads(store.get(extract_manifest_key(prefix))))
    except Exception as err:  # absent or unreadable: no published extract
        if _missing(err):
            return None
        raise


def publish(store: ObjectStore, prefix: str, summary: ExtractSummary) -> str:
    """Write the manifest (the atomic publish), then remove the parts it superseded."""
    previous = read_manifest(store, prefix)
    summary.created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    key = extract_manifest_key(prefix)
    store.put(key, json.dumps(summary.to_json(), indent=2, sort_keys=True).encode())
    if previous and previous.attempt != summary.attempt:
        stale = [k for keys in previous.parts.values() for k in keys]
        if stale:
            store.delete(stale)
    return store.uri(key)


def read_parts(
    store: ObjectStore,
    keys: list[str],
    limit: int | None = None,
    cache: dict[str, list[tuple[str, str]]] | None = None,
) -> list[tuple[str, str]]:
    """The (entity, ip) pairs of extract parts (headerless ``entity,ip`` CSV), up to ``limit``;
    a part already in ``cache`` is not read again.

    A pair repeated in what one call reads is one tuple (an extract has a line per record,
    and records repeat their pairs): the lists hold 8 bytes a repeat, not a tuple and two
    strings of their own (the large lake's recalibration held 1.5 GB of pairs so, 0.2 GB
    now; docs/benchmarks.md)."""
    out: list[tuple[str, str]] = []
    held: dict[tuple[str, str], tuple[str, str]] = {}
    for key in keys:
        if cache is None or key not in cache:
            pairs = []
            for line in store.get(key).decode().splitlines():
                entity, _, ip = line.partition(",")
                if entity and ip:
                    pair = (entity, ip)
                    pairs.append(held.setdefault(pair, pair))
            if cache is not None:
                cache[key] = pairs
        else:
            pairs = cache[key]
        if limit and len(out) + len(pairs) >= limit:
            return out + pairs[: limit - len(out)]
        out.extend(pairs)
    return out


def _missing(err: Exception) -> bool:
    if isinstance(err, FileNotFoundError):
        return True
    code = getattr(err, "response", {}).get("Error", {}).get("Code", "")
    return code in ("NoSuchKey", "404", "NotFound")
