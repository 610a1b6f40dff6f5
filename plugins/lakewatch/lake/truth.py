"""Known incidents as a CSV a backtest scores against: ``kind,entity,address,start,end``.

One row per known incident: ``entity`` an instance id (or a principal), empty for any;
``address`` an IPv4 or IPv6 address, empty for any; ``start``/``end`` ISO 8601 UTC. The synthetic
lake writes its ground truth in this form (``lakewatch lake generate --truth``), and a team
writes its own from its incident records, so the same file format serves both.
"""

from __future__ import annotations

import csv
import io
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HEADER = ("kind", "entity", "address", "start", "end")


class TruthError(ValueError):
    """A truth file that does not parse: names the file and line."""


@dataclass(frozen=True)
class TruthRow:
    kind: str
    entity: str  # "" = any entity
    address: str  # "" = any address
    start_ms: int
    end_ms: int
    line: int = 0

    def to_csv(self) -> list[str]:
        return [self.kind, self.entity, self.address, _iso(self.start_ms), _iso(self.end_ms)]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(text: str) -> int:
    """ISO 8601 to epoch milliseconds; a time without a zone is UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def _row(values: dict[str, str], where: str, line: int) -> TruthRow:
    kind = (values.get("kind") or "").strip()
    if not kind:
        raise TruthError(f"{where}, line {line}: kind is empty")
    address = (values.get("address") or "").strip()
    if address:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise TruthError(
                f"{where}, line {line}: address {address!r} is not an IPv4 or IPv6 address"
            ) from None
    times = []
    for name in ("start", "end"):
        try:
            times.append(parse_time(values.get(name) or ""))
        except ValueError:
            raise TruthError(
                f"{where}, line {line}: {name} {values.get(name)!r} is not an ISO 8601 time"
            ) from None
    if times[1] < times[0]:
        raise TruthError(f"{where}, line {line}: end is before start")
    entity = (values.get("entity") or "").strip()
    return TruthRow(kind, entity, address, times[0], times[1], line)


def parse_truth(text: str, where: str = "the truth file") -> list[TruthRow]:
    """Every row of a truth CSV; a bad header or row raises ``TruthError`` with its line."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != HEADER:
        raise TruthError(f"{where}, line 1: the header must be {','.join(HEADER)}, not {header}")
    rows = []
    for values in reader:
        line = reader.line_num
        if not values or not "".join(values).strip():
            continue
        if len(values) != len(HEADER):
            raise TruthError(
                f"{where}, line {line}: {len(values)} fields, expected {len(HEADER)} "
                f"({','.join(HEADER)})"
            )
        rows.append(_row(dict(zip(HEADER, values, strict=True)), where, line))
    return rows


def read_truth(path: str | Path) -> list[TruthRow]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a spreadsheet's BOM is no header
    except OSError as err:
        raise TruthError(f"cannot read the truth file {path}: {err.strerror or err}") from None
    return parse_truth(text, str(path))


def truth_csv(rows: Iterable[TruthRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow(row.to_csv())
    return out.getvalue()


def rows_from_labels(labels: Iterable[dict[str, Any]]) -> list[TruthRow]:
    """The synthetic lake's labelled rows as truth rows: one per injected event and labelled
    pair (instance, address), spanning the times of its rows."""
    spans: dict[tuple[str, str, str, str], list[int]] = {}
    for label in labels:
        key = (label["event_id"], label["kind"], label["entity"], label["ip"])
        span = spans.setdefault(key, [label["time"], label["time"]])
        span[0], span[1] = min(span[0], label["time"]), max(span[1], label["time"])
    return [
        TruthRow(kind, entity, ip, first, last)
        for (_, kind, entity, ip), (first, last) in sorted(
            spans.items(), key=lambda item: (item[1][0], item[0])
        )
    ]
