"""Arrow schemas of Security Lake's VPC Flow (4001), Route 53 (4003), CloudTrail management
(3001, 3002, API Activity) and Security Hub (2004) tables.

Source version 1.0 (OCSF 1.0.0-rc.2) copies AWS's own files field for field, nullability and
Avro-style list element names included. Source version 2.0 (OCSF 1.1.0) adds ``*_time_dt``
timestamps, ``cloud.account.uid``, ``action``, ``observables`` and the ``accountid``/``region``/
``asl_version`` columns Security Lake adds to its 2.0 tables.
"""

from __future__ import annotations

import pyarrow as pa

from lakewatch.lake.layout import Source

S = pa.string()
I32 = pa.int32()
I64 = pa.int64()
TS = pa.timestamp("ms", tz="UTC")


def _f(name: str, typ: pa.DataType, nullable: bool = True) -> pa.Field:
    return pa.field(name, typ, nullable=nullable)


def _list(item: pa.DataType) -> pa.DataType:
    return pa.list_(pa.field("array", item, nullable=False))


METADATA = pa.struct(
    [
        _f(
            "product",
            pa.struct(
                [
                    _f("version", S, False),
                    _f("name", S, False),
                    _f("feature", pa.struct([_f("name", S, False)]), False),
                    _f("vendor_name", S, False),
                ]
            ),
            False,
        ),
        _f("profiles", _list(S)),
        _f("version", S, False),
    ]
)

VPC_ENDPOINT = pa.struct(
    [
        _f("port", I32),
        _f("svc_name", S),
        _f("ip", S),
        _f("intermediate_ips", _list(S)),
        _f("interface_uid", S),
        _f("vpc_uid", S),
        _f("instance_uid", S),
        _f("subnet_uid", S),
    ]
)

VPC_CONNECTION_INFO = pa.struct(
    [
        _f("protocol_num", I32),
        _f("tcp_flags", I32),
        _f("protocol_ver", S),
        _f("boundary_id", I32),
        _f("boundary", S),
        _f("direction_id", I32),
        _f("direction", S),
    ]
)

TRAFFIC = pa.struct([_f("packets", I64), _f("bytes", I64)])
UNMAPPED = pa.map_(pa.field("key", S, False), pa.field("value", S, False))
DNS_QUERY = pa.struct([_f("hostname", S), _f("type", S), _f("class", S)])
DNS_ANSWER = pa.struct([_f("type", S), _f("rdata", S), _f("class", S)])
DNS_CONNECTION_INFO = pa.struct(
    [_f("protocol_name", S), _f("direction", S, False), _f("direction_id", I32, False)]
)
OBSERVABLE = pa.struct([_f("name", S), _f("type", S), _f("type_id", I32), _f("value", S)])

_CLASSIFICATION = [
    _f("severity_id", I32, False),
    _f("severity", S, False),
    _f("class_name", S, False),
    _f("class_uid", I32, False),
    _f("category_name", S, False),
    _f("category_uid", I32, False),
]


def _cloud(version: str, zone: bool) -> pa.DataType:
    account = (
        [_f("account_uid", S)] if version == "1.0" else [_f("account", pa.struct([_f("uid", S)]))]
    )
    return pa.struct(
        [*account, _f("region", S), *([_f("zone", S)] if zone else []), _f("provider", S, False)]
    )


def vpc_flow_schema(version: str) -> pa.Schema:
    v2 = version == "2.0"
    fields = [
        _f("metadata", METADATA, False),
        _f("cloud", _cloud(version, zone=True), False),
        _f("src_endpoint", VPC_ENDPOINT, False),
        _f("dst_endpoint", VPC_ENDPOINT, False),
        _f("connection_info", VPC_CONNECTION_INFO, False),
        _f("traffic", TRAFFIC, False),
        _f("time", I64, False),
        *([_f("time_dt", TS)] if v2 else []),
        _f("start_time", I64),
        *([_f("start_time_dt", TS)] if v2 else []),
        _f("end_time", I64),
        *([_f("end_time_dt", TS)] if v2 else []),
        _f("status_code", S),
        *_CLASSIFICATION,
        _f("activity_name", S, False),
        _f("activity_id", I32, False),
        *([_f("action", S), _f("action_id", I32)] if v2 else []),
        _f("disposition", S, False),
        _f("disposition_id", I32, False),
        _f("type_uid", I32, False),
        _f("type_name", S, False),
        *([_f("observables", _list(OBSERVABLE))] if v2 else []),
        _f("unmapped", UNMAPPED),
        *_sl2_columns(v2),
    ]
    return pa.schema(fields)


def route53_schema(version: str) -> pa.Schema:
    v2 = version == "2.0"
    src = [_f("vpc_uid", S), _f("ip", S), _f("port", I32), _f("instance_uid", S)]
    fields = [
        _f("metadata", METADATA, False),
        _f("cloud", _cloud(version, zone=False), False),
        _f("src_endpoint", pa.struct(src), False),
        _f("time", I64, False),
        *([_f("time_dt", TS)] if v2 else []),
        _f("query", DNS_QUERY, False),
        _f("answers", _list(DNS_ANSWER)),
        _f("connection_info", DNS_CONNECTION_INFO, False),
        _f("dst_endpoint", pa.struct([_f("instance_uid", S), _f("interface_uid", S)]), False),
        *_CLASSIFICATION,
        _f("rcode_id", I32),
        _f("rcode", S),
        _f("activity_id", I32, False),
        _f("activity_name", S, False),
        *([_f("action", S), _f("action_id", I32)] if v2 else []),
        _f("type_name", S, False),
        _f("type_uid", I32, False),
        _f("disposition", S, False),
        _f("disposition_id", I32, False),
        *([_f("observables", _list(OBSERVABLE))] if v2 else []),
        _f("unmapped", UNMAPPED),
        *_sl2_columns(v2),
    ]
    return pa.schema(fields)


def sh_findings_schema() -> pa.Schema:
    """Security Hub findings as Security Lake 2.0 writes them (OCSF 1.1.0 Detection
    Finding); lakewatch reads only their uid, title, time, severity, resources and addresses."""
    endpoint = pa.struct([_f("ip", S), _f("instance_uid", S)])
    return pa.schema(
        [
            _f("metadata", METADATA, False),
            _f("time", I64, False),
            _f("time_dt", TS),
            _f(
                "cloud",
                pa.struct(
                    [
                        _f("account", pa.struct([_f("uid", S)])),
                        _f("region", S),
                        _f("provider", S, False),
                    ]
                ),
                False,
            ),
            _f(
                "finding_info",
                pa.struct(
                    [
                        _f("uid", S, False),
                        _f("title", S),
                        _f("desc", S),
                        _f("types", _list(S)),
                        _f("created_time", I64),
                    ]
                ),
                False,
            ),
            _f(
                "resources",
                _list(pa.struct([_f("uid", S), _f("type", S), _f("region", S)])),
            ),
            _f(
                "evidences",
                _list(pa.struct([_f("src_endpoint", endpoint), _f("dst_endpoint", endpoint)])),
            ),
            _f("observables", _list(OBSERVABLE)),
            *_CLASSIFICATION,
            _f("status_id", I32),
            _f("status", S),
            _f("activity_id", I32, False),
            _f("activity_name", S),
            _f("type_uid", I64, False),
            _f("type_name", S),
            _f("unmapped", UNMAPPED),
            *_sl2_columns(True),
        ]
    )


def cloud_trail_schema(version: str) -> pa.Schema:
    """CloudTrail management events (``CLOUD_TRAIL_MGMT``): one table for Authentication
    (3002), API Activity (1.0: 3005, 2.0: 6003) and Account Change (3001) records.

    Source version 1.0 copies AWS's own 3002 files (the shared samples) field for field, with
    what the other two classes need beside them: ``resources``, and ``dst_endpoint`` and
    ``user`` nullable (an Account Change has no ``dst_endpoint``, an API Activity no ``user``:
    the class's schema refuses them even empty). Source version 2.0 (OCSF 1.1.0) names the
    actor's ARN ``uid`` and its principal id ``uid_alt`` (1.0: ``uuid`` and ``uid``), the
    account ``account.uid``, MFA ``is_mfa``, the event type ``metadata.event_code``, and adds
    ``time_dt``, request and response ``data``, ``observables`` and Security Lake 2.0's
    columns."""
    if version == "1.0":
        return _cloud_trail_1_0()
    user = [
        _f("type", S),
        _f("name", S),
        _f("uid", S),
        _f("uid_alt", S),
        _f("account", pa.struct([_f("uid", S)])),
        _f("credential_uid", S),
    ]
    session = [_f("created_time", I64), _f("is_mfa", pa.bool_()), _f("issuer", S)]
    api = [
        _f("response", pa.struct([_f("error", S), _f("message", S), _f("data", S)]), False),
        _f("operation", S),
        _f("version", S),
        _f("service", pa.struct([_f("name", S)]), False),
        _f("request", pa.struct([_f("uid", S), _f("data", S)]), False),
    ]
    return pa.schema(
        [
            _f("metadata", _ct_metadata(v2=True), False),
            _f("time", I64, False),
            _f("time_dt", TS),
            _f(
                "cloud",
                pa.struct(
                    [
                        _f("account", pa.struct([_f("uid", S)])),
                        _f("region", S),
                        _f("provider", S, False),
                    ]
                ),
                False,
            ),
            _f("api", pa.struct(api), False),
            _f("resources", _list(pa.struct([_f("uid", S), _f("type", S)]))),
            _f("dst_endpoint", pa.struct([_f("svc_name", S)])),
            _f("actor", _ct_actor(user, session, v2=True), False),
            _f("http_request", pa.struct([_f("user_agent", S)]), False),
            _f("src_endpoint", pa.struct([_f("uid", S), _f("ip", S), _f("domain", S)]), False),
            *_CT_CLASSIFICATION,
            _f("user", pa.struct([_f("uid", S), _f("uid_alt", S), _f("name", S)])),
            *_CT_ACTIVITY,
            _f("is_mfa", pa.bool_()),
            _f("observables", _list(OBSERVABLE)),
            _f("unmapped", UNMAPPED),
            *_sl2_columns(True),
        ]
    )


def _cloud_trail_1_0() -> pa.Schema:
    user = [
        _f("type", S),
        _f("name", S),
        _f("uid", S),
        _f("uuid", S),
        _f("account_uid", S),
        _f("credential_uid", S),
    ]
    session = [_f("created_time", I64), _f("mfa", pa.bool_()), _f("issuer", S)]
    api = [
        _f("response", pa.struct([_f("error", S), _f("message", S)]), False),
        _f("operation", S),
        _f("version", S),
        _f("service", pa.struct([_f("name", S)]), False),
        _f("request", pa.struct([_f("uid", S)]), False),
    ]
    return pa.schema(
        [
            _f("metadata", _ct_metadata(v2=False), False),
            _f("time", I64, False),
            _f("cloud", pa.struct([_f("region", S), _f("provider", S, False)]), False),
            _f("api", pa.struct(api), False),
            _f(
                "resources",
                _list(pa.struct([_f("uid", S), _f("account_uid", S), _f("type", S)])),
            ),
            _f("dst_endpoint", pa.struct([_f("svc_name", S)])),
            _f("actor", _ct_actor(user, session, v2=False), False),
            _f("http_request", pa.struct([_f("user_agent", S)]), False),
            _f("src_endpoint", pa.struct([_f("uid", S), _f("ip", S), _f("domain", S)]), False),
            *_CT_CLASSIFICATION,
            _f("user", pa.struct([_f("uid", S), _f("uuid", S), _f("name", S)])),
            *_CT_ACTIVITY,
            _f("mfa", pa.bool_()),
            _f("unmapped", UNMAPPED),
        ]
    )


def _ct_metadata(v2: bool) -> pa.DataType:
    product = pa.struct(
        [
            _f("version", S, False),
            _f("name", S, False),
            _f("vendor_name", S, False),
            _f("feature", pa.struct([_f("name", S, False)]), False),
        ]
    )
    return pa.struct(
        [
            _f("product", product, False),
            _f("uid", S),
            *([_f("event_code", S)] if v2 else []),
            _f("profiles", _list(S)),
            _f("version", S, False),
        ]
    )


def _ct_actor(user: list[pa.Field], session: list[pa.Field], v2: bool) -> pa.DataType:
    # 1.1.0's idp must name a provider: a caller without one has none (1.0's is always there)
    return pa.struct(
        [
            _f("user", pa.struct(user), False),
            _f("session", pa.struct(session), False),
            _f("invoked_by", S),
            _f("idp", pa.struct([_f("name", S)]), v2),
        ]
    )


_CT_CLASSIFICATION = [
    _f("class_name", S, False),
    _f("class_uid", I32, False),
    _f("category_name", S, False),
    _f("category_uid", I32, False),
    _f("severity_id", I32, False),
    _f("severity", S, False),
]
_CT_ACTIVITY = [
    _f("activity_name", S, False),
    _f("activity_id", I32, False),
    _f("type_uid", I32, False),
    _f("type_name", S, False),
    _f("status", S),
    _f("status_id", I32),
]


def _sl2_columns(v2: bool) -> list[pa.Field]:
    if not v2:
        return []
    return [_f("accountid", S), _f("region", S), _f("asl_version", S)]


def schema_for(source: Source, version: str) -> pa.Schema:
    if version not in ("1.0", "2.0"):
        raise ValueError(f"unknown Security Lake source version {version!r} (1.0 or 2.0)")
    if source is Source.CLOUD_TRAIL_MGMT:
        return cloud_trail_schema(version)
    if source is Source.SH_FINDINGS:
        if version != "2.0":
            raise ValueError("lakewatch writes SH_FINDINGS in source version 2.0 only")
        return sh_findings_schema()
    return vpc_flow_schema(version) if source is Source.VPC_FLOW else route53_schema(version)
