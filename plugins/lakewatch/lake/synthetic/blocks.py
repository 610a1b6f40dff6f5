"""Blocks of rows before they are OCSF: one column per field the tables are built from.

A traffic class or an anomaly appends blocks to its slice; ``ocsf.py`` turns a slice's
concatenated blocks into a Security Lake table. ``label`` is the row's index into the slice's
labels (-1: normal).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakewatch.lake import arrow_util as au
from lakewatch.lake.schemas import DNS_ANSWER


def _int64(x, n: int) -> np.ndarray:
    return np.full(n, x, dtype=np.int64) if np.isscalar(x) else np.asarray(x, np.int64)


def vpc_block(
    times,
    *,
    s_port,
    s_ip,
    s_eni,
    d_port,
    d_ip,
    d_eni,
    direction,
    packets,
    nbytes,
    verdict,
    flags=None,
    v6=False,
    label=-1,
    proto=6,
) -> dict[str, pa.Array]:
    """VPC Flow rows. ``verdict``: 0 accepted, 1 rejected, 2 NODATA, 3 SKIPDATA;
    ``direction``: 1 inbound, 2 outbound, 99 none (NODATA); ``proto``: the IANA protocol
    number (6 TCP unless given; none on NODATA rows)."""
    n = len(times)
    verdict = _int64(verdict, n)
    if flags is None:
        flags = np.where(verdict >= 2, -1, 19)
    proto = np.where(verdict >= 2, -1, _int64(proto, n))
    return {
        "time": pa.array(_int64(times, n), pa.int64()),
        "s_port": au.ints(_int64(s_port, n), pa.int32()),
        "s_ip": s_ip,
        "s_eni": pa.array(_int64(s_eni, n)),
        "d_port": au.ints(_int64(d_port, n), pa.int32()),
        "d_ip": d_ip,
        "d_eni": pa.array(_int64(d_eni, n)),
        "direction": pa.array(_int64(direction, n)),
        "proto": au.ints(proto, pa.int32()),
        "flags": au.ints(_int64(flags, n), pa.int32()),
        "ipver": pa.array(np.where(verdict >= 2, 2, 1 if v6 else 0)),
        "packets": au.ints(_int64(packets, n)),
        "bytes": au.ints(_int64(nbytes, n)),
        "duration": pa.array(np.full(n, 1_000) * (1 + (_int64(times, n) % 59))),
        "verdict": pa.array(verdict),
        "label": pa.array(_int64(label, n)),
    }


def dns_block(
    times,
    *,
    s_vpc,
    s_ip,
    s_inst,
    resolver: tuple[str, str] | None,
    hostnames,
    qtype,
    counts,
    rdata,
    rcode,
    rng: np.random.Generator,
    label=-1,
) -> dict[str, pa.Array]:
    """Route 53 resolver rows; ``resolver``: the (endpoint, interface) an on-premises query
    came through, None for an instance's own query; ``counts``: answers per row."""
    n = len(times)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    rtype = pc.if_else(pc.match_substring(rdata, ":"), "AAAA", "A") if len(rdata) else rdata
    answers = au.list_array(
        offsets,
        pa.StructArray.from_arrays(
            [rtype, rdata, au.const("IN", len(rdata))], fields=list(DNS_ANSWER)
        ),
        pa.field("array", DNS_ANSWER, nullable=False),
    )
    endpoint, interface = resolver or (None, None)
    return {
        "time": pa.array(np.asarray(times, np.int64)),
        "s_vpc": s_vpc,
        "s_ip": s_ip,
        "s_port": pa.array(rng.integers(1024, 65535, n).astype(np.int32)),
        "s_inst": s_inst,
        "d_inst": au.const(endpoint, n),
        "d_iface": au.const(interface, n),
        "hostname": hostnames,
        "qtype": pa.array(np.asarray(qtype, np.int64)),
        "answers": answers,
        "rcode": pa.array(np.asarray(rcode, np.int64)),
        "first_rdata": au.take(rdata, np.where(np.asarray(counts) > 0, offsets[:-1], -1)),
        "label": pa.array(np.full(n, label, dtype=np.int64)),
    }
