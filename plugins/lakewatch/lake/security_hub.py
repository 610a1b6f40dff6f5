"""Security Hub findings in the lake (source ``SH_FINDINGS``): GuardDuty's and the other
services' findings, read back as evidence on instances and addresses.

Security Lake 2.0 writes them as OCSF 1.1.0 Detection Findings (class 2004): the affected
instance in ``resources[].uid``, the remote address in ``evidences[]`` endpoints and in
``observables``. Source version 1.0's OCSF 1.0.0-rc.2 Security Findings (class 2001) name
the finding ``finding`` instead of ``finding_info``; ``read_evidence`` reads either. lakewatch
uses them only to rank its own findings (``review.rows.rank``): evidence from a second
source on the same instance or address.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow.parquet as pq

from lakewatch.lake.layout import Source, parse_key, source_prefix
from lakewatch.lake.sink import day_partition_keys

_COLUMNS = [
    "time",
    "severity_id",
    "finding_info",
    "finding",
    "resources",
    "evidences",
    "observables",
]


@dataclass(frozen=True)
class Evidence:
    """One Security Hub finding, as evidence about instances and addresses."""

    uid: str
    title: str
    types: tuple[str, ...]
    severity_id: int
    time: int  # epoch ms
    instances: tuple[str, ...]
    addresses: tuple[str, ...]
    source_object: str

    def names(self, instances: tuple[str, ...], addresses: tuple[str, ...]) -> bool:
        """Does it speak of one of these instances or addresses?"""
        return bool(set(self.instances) & set(instances) or set(self.addresses) & set(addresses))


def day_keys(store: Any, version: str, day: date) -> list[str]:
    """The day's SH_FINDINGS objects, every region and account."""
    base = source_prefix(Source.SH_FINDINGS, version)
    return [
        k
        for k in day_partition_keys(store, base, day)
        if (parsed := parse_key(k)) is not None and parsed.day == day
    ]


@dataclass
class EvidenceSet:
    findings: list[Evidence]
    skipped: list[str]  # "<object> row <n>: why", for rows that name no finding


def read_evidence(store: Any, version: str, days: list[date]) -> EvidenceSet:
    """Every Security Hub finding of ``days`` in the lake (``store``: the lake bucket)."""
    out = EvidenceSet([], [])
    for day in days:
        for key in day_keys(store, version, day):
            found = evidence_in(store.get(key), store.uri(key))
            out.findings.extend(found.findings)
            out.skipped.extend(found.skipped)
    return out


def evidence_in(body: bytes, where: str) -> EvidenceSet:
    """The findings of one object; a row without a finding uid cannot be matched or shown,
    so it is skipped and reported."""
    parquet = pq.ParquetFile(io.BytesIO(body))
    columns = [c for c in _COLUMNS if c in parquet.schema_arrow.names]
    out = EvidenceSet([], [])
    for number, row in enumerate(parquet.read(columns=columns).to_pylist()):
        info = row.get("finding_info") or row.get("finding") or {}
        if not info.get("uid"):
            out.skipped.append(f"{where} row {number}: no finding_info.uid")
            continue
        addresses = {
            o["value"] for o in row.get("observables") or [] if o.get("type") == "IP Address"
        }
        for ev in row.get("evidences") or []:
            for end in ("src_endpoint", "dst_endpoint"):
                if (ev.get(end) or {}).get("ip"):
                    addresses.add(ev[end]["ip"])
        out.findings.append(
            Evidence(
                uid=info["uid"],
                title=info.get("title") or "",
                types=tuple(info.get("types") or ()),
                severity_id=int(row.get("severity_id") or 0),
                time=int(row.get("time") or 0),
                instances=tuple(r["uid"] for r in row.get("resources") or [] if r.get("uid")),
                addresses=tuple(sorted(addresses)),
                source_object=where,
            )
        )
    return out
