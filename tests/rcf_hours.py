"""Feature rows of normal instance-hours (``extract.rcf_features``' raw columns) drawn for
the RCF tests: each instance its own level of web traffic, a few DNS queries, no RDP/SMB."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lakewatch.extract import rcf_features as rf

START_MS = 1_793_491_200_000  # 2026-11-01T00:00Z


def normal_hours(
    instances: int = 4, hours: int = 150, seed: int = 0, levels: tuple[float, ...] = ()
) -> pa.Table:
    """``levels``: each instance's mean outbound flows an hour (default 20, 40, 60, ...)."""
    rng = np.random.default_rng(seed)
    cols: dict[str, list] = {c: [] for c in (*rf.KEY_COLUMNS, *rf.RAW_COLUMNS)}
    for i in range(instances):
        level = levels[i] if levels else 20 * (i + 1)
        for h in range(hours):
            flows_out = int(rng.poisson(level))
            flows_in = int(rng.poisson(level / 2))
            web = int(rng.binomial(flows_out + flows_in, 0.8))
            row = {c: 0 for c in rf.RAW_COLUMNS} | {
                "flows_in": flows_in,
                "flows_out": flows_out,
                "bytes_in": int(rng.lognormal(10, 0.3)) * max(flows_in, 1),
                "bytes_out": int(rng.lognormal(9, 0.3)) * max(flows_out, 1),
                "packets": 5 * (flows_in + flows_out),
                "port_web": web,
                "port_dns": flows_in + flows_out - web,
                "dst_ports": 3,
                "peers": int(rng.integers(2, 8)),
                "tcp": web,
                "udp": flows_in + flows_out - web,
                "dns_queries": int(rng.poisson(10)),
                "dns_domains": int(rng.integers(1, 5)),
                "hour_of_day": h % 24,
            }
            cols["instance"].append(f"i-{i:017x}")
            cols["hour_start"].append(START_MS + h * 3_600_000)
            for c in rf.RAW_COLUMNS:
                cols[c].append(row[c])
    return pa.table(cols)


def with_rdp(table: pa.Table, row: int, flows: int = 40, bytes_out: int = 48_000_000) -> pa.Table:
    """``table`` with row ``row`` turned into an RDP sweep with a large upload."""
    data = table.to_pydict()
    data["port_rdp"][row] += flows
    data["tcp"][row] += flows
    data["flows_out"][row] += flows
    data["bytes_out"][row] += bytes_out
    data["peers"][row] += flows
    return pa.table(data, schema=table.schema)
