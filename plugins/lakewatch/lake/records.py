"""Single Security Lake records built by hand (canaries, tests), valid OCSF for their version."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from lakewatch.lake.layout import OCSF_VERSION, Source
from lakewatch.lake.schemas import schema_for


def vpc_egress_row(
    *,
    instance_uid: str,
    src_ip: str,
    dst_ip: str,
    dst_port: int,
    time_ms: int,
    account_id: str,
    region: str,
    version: str = "2.0",
    interface_uid: str = "eni-0000000000canary",
    vpc_uid: str = "vpc-canary",
    subnet_uid: str = "subnet-canary",
) -> dict[str, Any]:
    """An accepted outbound flow from ``instance_uid`` to ``dst_ip`` (ENI on src_endpoint)."""
    v2 = version == "2.0"
    endpoint_null = {
        "port": None,
        "svc_name": "-",
        "ip": None,
        "intermediate_ips": None,
        "interface_uid": None,
        "vpc_uid": None,
        "instance_uid": None,
        "subnet_uid": None,
    }
    row: dict[str, Any] = {
        "metadata": {
            "product": {
                "version": "5",
                "name": "Amazon VPC",
                "feature": {"name": "Flowlogs"},
                "vendor_name": "AWS",
            },
            "profiles": ["cloud", "security_control", *(["datetime"] if v2 else [])],
            "version": OCSF_VERSION[version],
        },
        "cloud": ({"account": {"uid": account_id}} if v2 else {"account_uid": account_id})
        | {"region": region, "zone": f"{region}a", "provider": "AWS"},
        "src_endpoint": {
            **endpoint_null,
            "port": 44321,
            "ip": src_ip,
            "interface_uid": interface_uid,
            "vpc_uid": vpc_uid,
            "instance_uid": instance_uid,
            "subnet_uid": subnet_uid,
        },
        "dst_endpoint": {**endpoint_null, "port": dst_port, "ip": dst_ip},
        "connection_info": {
            "protocol_num": 6,
            "tcp_flags": 19,
            "protocol_ver": "IPv4",
            "boundary_id": 99,
            "boundary": "-",
            "direction_id": 2,
            "direction": "Outbound",
        },
        "traffic": {"packets": 10, "bytes": 4200},
        "time": time_ms,
        "start_time": time_ms,
        "end_time": time_ms + 30_000,
        "status_code": "OK",
        "severity_id": 1,
        "severity": "Informational",
        "class_name": "Network Activity",
        "class_uid": 4001,
        "category_name": "Network Activity",
        "category_uid": 4,
        "activity_name": "Traffic",
        "activity_id": 6,
        "disposition": "Allowed",
        "disposition_id": 1,
        "type_uid": 400106,
        "type_name": "Network Activity: Traffic",
        "unmapped": [("sublocation_id", "-"), ("sublocation_type", "-")],
    }
    if v2:
        when = datetime.fromtimestamp(time_ms / 1000, UTC)
        row |= {
            "time_dt": when,
            "start_time_dt": when,
            "end_time_dt": datetime.fromtimestamp((time_ms + 30_000) / 1000, UTC),
            "action": "Allowed",
            "action_id": 1,
            "observables": [
                {"name": "src_endpoint.ip", "type": "IP Address", "type_id": 2, "value": src_ip},
                {"name": "dst_endpoint.ip", "type": "IP Address", "type_id": 2, "value": dst_ip},
            ],
            "accountid": account_id,
            "region": region,
            "asl_version": version,
        }
    return row


def vpc_table(rows: list[dict[str, Any]], version: str = "2.0") -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema_for(Source.VPC_FLOW, version))
