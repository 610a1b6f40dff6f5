"""A slice's rows as Security Lake tables: OCSF Network Activity (VPC Flow) and DNS Activity
(Route 53), in the schema of the lake's source version (1.0: OCSF 1.0.0-rc.2, 2.0: 1.1.0)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakewatch.lake import arrow_util as au
from lakewatch.lake.layout import OCSF_VERSION, Source
from lakewatch.lake.schemas import OBSERVABLE, schema_for

# verdict -> activity, activity_id, disposition, disposition_id, action, action_id
_VERDICTS = {
    0: ("Traffic", 6, "Allowed", 1, "Allowed", 1),
    1: ("Refuse", 5, "Blocked", 2, "Denied", 2),
    2: ("Unknown", 0, "-", 99, "Unknown", 0),
    3: ("Unknown", 0, "-", 99, "Unknown", 0),
}
_PRODUCTS = {
    Source.VPC_FLOW: {
        "version": "5",
        "name": "Amazon VPC",
        "feature": {"name": "Flowlogs"},
        "vendor_name": "AWS",
    },
    Source.ROUTE53: {
        "version": "1.100000",
        "name": "Route 53",
        "feature": {"name": "Resolver Query Logs"},
        "vendor_name": "AWS",
    },
}


class OcsfTables:
    def __init__(self, source_version: str, region: str, eni: dict[str, pa.Array]):
        self.source_version = source_version
        self.region = region
        self.eni = eni  # interface columns by ENI index (``Pools.eni``)
        self.ocsf_version = OCSF_VERSION[source_version]
        self.v2 = source_version == "2.0"

    def _common(self, n: int, source: Source) -> dict[str, pa.Array]:
        schema = schema_for(source, self.source_version)
        profiles = ["cloud", "security_control", *(["datetime"] if self.v2 else [])]
        meta = {"product": _PRODUCTS[source], "profiles": profiles, "version": self.ocsf_version}
        return {
            "metadata": _repeat(meta, schema.field("metadata").type, n),
            "severity_id": au.const(1, n, pa.int32()),
            "severity": au.const("Informational", n),
            "class_name": au.const(
                "Network Activity" if source is Source.VPC_FLOW else "DNS Activity", n
            ),
            "class_uid": au.const(source.class_uid, n, pa.int32()),
            "category_name": au.const("Network Activity", n),
            "category_uid": au.const(4, n, pa.int32()),
        }

    def _cloud(self, n: int, account_uid: str, zone: pa.Array | None, source: Source):
        typ = schema_for(source, self.source_version).field("cloud").type
        acct = (
            pa.StructArray.from_arrays([au.const(account_uid, n)], names=["uid"])
            if self.v2
            else au.const(account_uid, n)
        )
        arrays = [acct, au.const(self.region, n)]
        if zone is not None:
            arrays.append(zone)
        arrays.append(au.const("AWS", n))
        return pa.StructArray.from_arrays(arrays, fields=list(typ))

    def _endpoint(self, typ: pa.DataType, port, ip, eni: np.ndarray) -> pa.Array:
        n = len(eni)
        return pa.StructArray.from_arrays(
            [
                port,
                au.const("-", n),
                ip,
                pa.nulls(n, typ.field("intermediate_ips").type),
                *(
                    au.take(self.eni[k], eni)
                    for k in ("interface_uid", "vpc_uid", "instance_uid", "subnet_uid")
                ),
            ],
            fields=list(typ),
        )

    def vpc_table(self, rows: dict[str, pa.Array], account_uid: str) -> pa.Table:
        n = len(rows["time"])
        schema = schema_for(Source.VPC_FLOW, self.source_version)
        ep_type = schema.field("src_endpoint").type
        s_eni, d_eni = rows["s_eni"].to_numpy(), rows["d_eni"].to_numpy()
        verdict = rows["verdict"].to_numpy()
        nodata = verdict >= 2
        direction = rows["direction"].to_numpy()
        connection = pa.StructArray.from_arrays(
            [
                rows["proto"],
                rows["flags"],
                au.take(pa.array(["IPv4", "IPv6", "-"]), rows["ipver"].to_numpy()),
                au.const(99, n, pa.int32()),
                au.take(pa.array(["-"]), np.where(nodata, -1, 0)),
                pa.array(direction.astype(np.int32)),
                au.take(
                    pa.array(["-", "Inbound", "Outbound"]), np.where(direction == 99, 0, direction)
                ),
            ],
            fields=list(schema.field("connection_info").type),
        )
        traffic = pa.StructArray.from_arrays(
            [rows["packets"], rows["bytes"]], fields=list(schema.field("traffic").type)
        )
        zone = au.take(self.eni["zone"], np.where(s_eni >= 0, s_eni, d_eni))
        verdicts = np.array([_VERDICTS[k] for k in range(4)], dtype=object)

        def pick(col: int) -> pa.Array:
            return pa.array(verdicts[:, col].tolist()).take(pa.array(verdict))

        time = rows["time"]
        end = pc.add(time, rows["duration"])
        cols = {
            **self._common(n, Source.VPC_FLOW),
            "cloud": self._cloud(n, account_uid, zone, Source.VPC_FLOW),
            "src_endpoint": self._endpoint(ep_type, rows["s_port"], rows["s_ip"], s_eni),
            "dst_endpoint": self._endpoint(ep_type, rows["d_port"], rows["d_ip"], d_eni),
            "connection_info": connection,
            "traffic": traffic,
            "time": time,
            "start_time": time,
            "end_time": end,
            "status_code": au.take(
                pa.array(["OK", "NODATA", "SKIPDATA"]),
                np.select([verdict == 2, verdict == 3], [1, 2], 0),
            ),
            "activity_name": pick(0).cast(pa.string()),
            "activity_id": pick(1).cast(pa.int32()),
            "disposition": pick(2).cast(pa.string()),
            "disposition_id": pick(3).cast(pa.int32()),
            "type_uid": pc.add(pa.array(np.full(n, 400100, np.int32)), pick(1).cast(pa.int32())),
            "type_name": pc.binary_join_element_wise(
                au.const("Network Activity: ", n), pick(0).cast(pa.string()), ""
            ),
            "unmapped": _repeat(
                [("sublocation_id", "-"), ("sublocation_type", "-")],
                schema.field("unmapped").type,
                n,
            ),
        }
        if self.v2:
            instance_uid = self.eni["instance_uid"]
            cols |= {
                "time_dt": time.cast(pa.timestamp("ms", tz="UTC")),
                "start_time_dt": time.cast(pa.timestamp("ms", tz="UTC")),
                "end_time_dt": end.cast(pa.timestamp("ms", tz="UTC")),
                "action": pick(4).cast(pa.string()),
                "action_id": pick(5).cast(pa.int32()),
                "observables": observables(
                    n,
                    [
                        ("src_endpoint.ip", "IP Address", 2, rows["s_ip"]),
                        ("dst_endpoint.ip", "IP Address", 2, rows["d_ip"]),
                        (
                            "src_endpoint.instance_uid",
                            "Resource UID",
                            10,
                            au.take(instance_uid, s_eni),
                        ),
                        (
                            "dst_endpoint.instance_uid",
                            "Resource UID",
                            10,
                            au.take(instance_uid, d_eni),
                        ),
                    ],
                ),
                **self._security_lake_2(n, account_uid),
            }
        return pa.Table.from_arrays([cols[f.name] for f in schema], schema=schema)

    def dns_table(self, rows: dict[str, pa.Array], account_uid: str) -> pa.Table:
        n = len(rows["time"])
        schema = schema_for(Source.ROUTE53, self.source_version)
        rcode = rows["rcode"].to_numpy()
        nx = rcode == 3
        time = rows["time"]
        cols = {
            **self._common(n, Source.ROUTE53),
            "cloud": self._cloud(n, account_uid, None, Source.ROUTE53),
            "src_endpoint": pa.StructArray.from_arrays(
                [rows["s_vpc"], rows["s_ip"], rows["s_port"], rows["s_inst"]],
                fields=list(schema.field("src_endpoint").type),
            ),
            "time": time,
            "query": pa.StructArray.from_arrays(
                [
                    rows["hostname"],
                    au.take(pa.array(["A", "AAAA"]), rows["qtype"].to_numpy()),
                    au.const("IN", n),
                ],
                fields=list(schema.field("query").type),
            ),
            "answers": rows["answers"],
            "connection_info": pa.StructArray.from_arrays(
                [au.const("UDP", n), au.const("Unknown", n), au.const(0, n, pa.int32())],
                fields=list(schema.field("connection_info").type),
            ),
            "dst_endpoint": pa.StructArray.from_arrays(
                [rows["d_inst"], rows["d_iface"]], fields=list(schema.field("dst_endpoint").type)
            ),
            "rcode_id": pa.array(rcode.astype(np.int32)),
            "rcode": au.take(pa.array(["NoError", "NXDomain"]), nx.astype(np.int64)),
            "activity_id": au.const(2, n, pa.int32()),
            "activity_name": au.const("Response", n),
            "type_name": au.const("DNS Activity: Response", n),
            "type_uid": au.const(400302, n, pa.int32()),
            "disposition": au.const("No Action", n),
            "disposition_id": au.const(16, n, pa.int32()),
            "unmapped": pa.nulls(n, schema.field("unmapped").type),
        }
        if self.v2:
            cols |= {
                "time_dt": time.cast(pa.timestamp("ms", tz="UTC")),
                "action": au.const("Allowed", n),
                "action_id": au.const(1, n, pa.int32()),
                "observables": observables(
                    n,
                    [
                        ("src_endpoint.ip", "IP Address", 2, rows["s_ip"]),
                        ("src_endpoint.instance_uid", "Resource UID", 10, rows["s_inst"]),
                        ("query.hostname", "Hostname", 1, rows["hostname"]),
                        ("answers[].rdata", "IP Address", 2, rows["first_rdata"]),
                    ],
                ),
                **self._security_lake_2(n, account_uid),
            }
        return pa.Table.from_arrays([cols[f.name] for f in schema], schema=schema)

    def _security_lake_2(self, n: int, account_uid: str) -> dict[str, pa.Array]:
        """The partition columns Security Lake 2.0 writes into every row."""
        return {
            "accountid": au.const(account_uid, n),
            "region": au.const(self.region, n),
            "asl_version": au.const(self.source_version, n),
        }


def observables(n: int, slots: list[tuple[str, str, int, pa.Array]]) -> pa.Array:
    """OCSF observables: one entry per slot whose value is a real address or id."""
    values = [pa.array(v) if not isinstance(v, pa.Array) else v for _, _, _, v in slots]
    valid = np.stack(
        [
            (pc.fill_null(pc.and_(pc.is_valid(v), pc.not_equal(v, "-")), False)).to_numpy(
                zero_copy_only=False
            )
            for v in values
        ],
        axis=1,
    )  # n x slots
    k = len(slots)
    flat_valid = pa.array(valid.reshape(-1))

    def interleaved(arrays: list[pa.Array]) -> pa.Array:
        stacked = pa.concat_arrays(arrays)  # slot-major: j*n + i
        order = (np.arange(k)[None, :] * n + np.arange(n)[:, None]).reshape(-1)
        return stacked.take(pa.array(order))

    names = interleaved([au.const(s[0], n) for s in slots])
    types = interleaved([au.const(s[1], n) for s in slots])
    type_ids = interleaved([au.const(s[2], n, pa.int32()) for s in slots])
    vals = interleaved([v.cast(pa.string()) for v in values])
    items = pa.StructArray.from_arrays([names, types, type_ids, vals], fields=list(OBSERVABLE))
    items = items.filter(flat_valid)
    offsets = np.concatenate([[0], np.cumsum(valid.sum(axis=1))])
    return au.list_array(offsets, items, pa.field("array", OBSERVABLE, nullable=False))


def _repeat(value, typ: pa.DataType, n: int) -> pa.Array:
    return pa.array([value], type=typ).take(pa.array(np.zeros(n, dtype=np.int64)))
