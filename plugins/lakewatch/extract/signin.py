"""The ``signin`` view's rules in Python: the twin of ``include/sql/views/signin.sql``.

The SQL is what the extract (Athena or DuckDB) and the scorer run; this module applies the same
rules to one OCSF record (a dict as read from Parquet or JSON), for code that reads a sign-in
without SQL (a finding's text) and for the tests that hold the two to the same answers
(``tests/extract/test_signin.py``). Who the principal is comes from ``lake.principals``, the
rule the synthetic lake's ground truth names principals by too; what this module adds is the
rest of the view: the address, the pair's status, the outcome and the MFA flag. The SQL's header
comment documents it all; change the SQL, ``lake.principals`` and this module together.

A record that makes no pair is counted, not paired, with its reason: ``unknown_version`` (an
OCSF version the source version does not hold), ``no_address``, ``service`` (a service's name
for an address) and ``unknown_actor`` (an actor the rule names no principal for).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from lakewatch.lake.principals import field, principal

# the OCSF versions each source version's records hold (major.minor): 1.0.0-rc.2 and 1.1.0
OCSF_PREFIX = {"1.0": "1.0.", "2.0": "1.1."}
MFA_FIELD = {"1.0": "mfa", "2.0": "is_mfa"}
_IPV4 = re.compile(
    r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])([.](25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}"
)  # pairs.sql's


def outcome(record: Mapping[str, Any]) -> str:
    """'Success', 'Failure' or 'Unknown': from status_id, else from status."""
    status_id = field(record, "status_id")
    if status_id == 1:
        return "Success"
    if status_id == 2:
        return "Failure"
    status = field(record, "status")
    status = status.lower() if isinstance(status, str) else None
    if status == "success":
        return "Success"
    if status in ("failure", "failed"):
        return "Failure"
    return "Unknown"


@dataclass(frozen=True)
class SignIn:
    """One Authentication record through the view: its pair, the pair's status (``ok`` or
    why it is not kept), and what the findings carry beside it."""

    entity: str | None
    ip: str | None
    status: str
    outcome: str
    is_mfa: bool | None


def sign_in(record: Mapping[str, Any], version: str) -> SignIn:
    """The record as the view and ``pairs.sql`` give it (the record is an Authentication one:
    the view reads class 3002 only)."""
    if version not in OCSF_PREFIX:
        raise ValueError(f"source version must be 1.0 or 2.0, not {version!r}")
    entity = principal(record, version)
    endpoint = field(record, "src_endpoint") or {}
    ip = endpoint.get("ip") or endpoint.get("domain") or None
    ocsf = field(record, "metadata.version")
    if not (isinstance(ocsf, str) and ocsf.startswith(OCSF_PREFIX[version])):
        status = "unknown_version"
    elif ip is None:
        status = "no_address"
    elif ":" not in ip and re.search("[A-Za-z]", ip):
        status = "service"
    elif entity is None:
        status = "unknown_actor"
    elif ip == "-":
        status = "dash"
    elif _IPV4.fullmatch(ip):
        status = "ok"
    elif ":" in ip:
        status = "ipv6"
    else:
        status = "malformed"
    mfa = field(record, MFA_FIELD[version])
    return SignIn(entity, ip, status, outcome(record), mfa)


def signin_schema(version: str) -> pa.Schema:
    """The columns the view reads, typed as Security Lake's CloudTrail table types them (1.0
    as AWS's own files; 2.0 with OCSF 1.1.0's names), and no others: a record of it is one the
    view can read (the tests build theirs so), and its top-level names are what a reader of an
    object needs to project (``lake.schemas.cloud_trail_schema`` is the whole table's)."""
    s, b = pa.string(), pa.bool_()
    if version == "1.0":
        actor_user = [
            ("type", s),
            ("name", s),
            ("uid", s),  # the principal id
            ("uuid", s),  # the ARN
            ("account_uid", s),
            ("credential_uid", s),
        ]
        user = [("uid", s), ("uuid", s), ("name", s)]
        times = [pa.field("time", pa.int64(), False)]
        mfa = "mfa"
    elif version == "2.0":
        actor_user = [
            ("type", s),
            ("name", s),
            ("uid", s),  # the ARN
            ("uid_alt", s),  # the principal id
            ("account", pa.struct([("uid", s)])),
            ("credential_uid", s),
        ]
        user = [("uid", s), ("uid_alt", s), ("name", s)]
        times = [pa.field("time", pa.int64(), False), ("time_dt", pa.timestamp("ms", tz="UTC"))]
        mfa = "is_mfa"
    else:
        raise ValueError(f"source version must be 1.0 or 2.0, not {version!r}")
    return pa.schema(
        [
            pa.field("metadata", pa.struct([pa.field("version", s, False)]), False),
            *times,
            pa.field("class_uid", pa.int32(), False),
            ("actor", pa.struct([("user", pa.struct(actor_user))])),
            ("user", pa.struct(user)),
            ("src_endpoint", pa.struct([("uid", s), ("ip", s), ("domain", s)])),
            ("status", s),
            ("status_id", pa.int32()),
            (mfa, b),
        ]
    )
