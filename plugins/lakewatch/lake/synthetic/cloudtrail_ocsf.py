"""CloudTrail records as Security Lake's ``CLOUD_TRAIL_MGMT`` table, field by field as AWS maps
them (the shared samples: 1.0's 3002 Parquet, 1.1.0's JSON), in the lake's source version.

By version (``schemas.cloud_trail_schema``):

- who: 1.0 ``actor.user.uid`` is the principal id and ``uuid`` the ARN, the account
  ``account_uid``; 2.0 ``uid`` is the ARN and ``uid_alt`` the principal id, the account
  ``account.uid``. The record's ``user`` (who was signed in to, assumed or changed) likewise.
- classes: Authentication 3002 and Account Change 3001 in both; API Activity is 3005 in
  OCSF 1.0.0-rc.2 (category Audit Activity, as the other two) and 6003 in 1.1.0 (Application
  Activity; the other two Identity & Access Management there).
- 1.0 flattens CloudTrail's ``requestParameters``, ``responseElements``,
  ``additionalEventData``, ``eventType`` and ``recipientAccountId`` into ``unmapped``, and
  gives role assumptions and MFA checks the status ``Other`` (0), as AWS's files do; 2.0 keeps
  the request and response as JSON in ``api.request.data`` and ``api.response.data``, the event
  type in ``metadata.event_code``, and every status as Success (1) or Failure (2).
- a caller that is an AWS service has no ``src_endpoint.ip``: its name is in
  ``src_endpoint.domain`` (and ``actor.invoked_by``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from lakewatch.lake.layout import OCSF_VERSION
from lakewatch.lake.schemas import cloud_trail_schema
from lakewatch.lake.synthetic.cloudtrail import CtRecord

_CLASSES = {
    # kind -> version -> (class uid, class name, category uid, category name)
    "auth": {
        "1.0": (3002, "Authentication", 3, "Audit Activity"),
        "2.0": (3002, "Authentication", 3, "Identity & Access Management"),
    },
    "api": {
        "1.0": (3005, "API Activity", 3, "Audit Activity"),
        "2.0": (6003, "API Activity", 6, "Application Activity"),
    },
    "account": {
        "1.0": (3001, "Account Change", 3, "Audit Activity"),
        "2.0": (3001, "Account Change", 3, "Identity & Access Management"),
    },
}
_ACTIVITIES = {
    "auth": {1: "Logon", 99: "Other"},
    "api": {1: "Create", 2: "Read", 3: "Update", 4: "Delete", 99: "Other"},
    "account": {
        1: "Create",
        3: "Password Change",
        6: "Delete",
        7: "Attach Policy",
        8: "Detach Policy",
    },
}


def ct_table(records: list[CtRecord], version: str, region: str, account_uid: str) -> pa.Table:
    """The records, in time order, as a ``CLOUD_TRAIL_MGMT`` table of ``version``."""
    rows = [ct_row(r, version, region, account_uid) for r in sorted(records, key=lambda r: r.time)]
    return pa.Table.from_pylist(rows, schema=cloud_trail_schema(version))


def ct_row(r: CtRecord, version: str, region: str, account_uid: str) -> dict[str, Any]:
    v2 = version == "2.0"
    class_uid, class_name, category_uid, category_name = _CLASSES[r.kind][version]
    activity = _ACTIVITIES[r.kind][r.activity_id]
    status, status_id = ("Success", 1) if r.success else ("Failure", 2)
    if not v2 and r.success and r.kind == "auth" and r.operation != "ConsoleLogin":
        status, status_id = "Other", 0  # AWS's 1.0 files: role assumptions, MFA checks
    a = r.actor
    row: dict[str, Any] = {
        "metadata": {
            "product": {
                "version": "1.08",
                "name": "CloudTrail",
                "vendor_name": "AWS",
                "feature": {"name": "Management"},
            },
            "uid": r.event_id,
            **({"event_code": r.event_type} if v2 else {}),
            "profiles": ["cloud", "datetime"] if v2 else ["cloud"],
            "version": OCSF_VERSION[version],
        },
        "time": r.time,
        "cloud": ({"account": {"uid": account_uid}} if v2 else {})
        | {"region": region, "provider": "AWS"},
        "api": {
            "response": {
                "error": r.error,
                "message": r.message,
                **({"data": _json(r.response)} if v2 else {}),
            },
            "operation": r.operation,
            "version": None,
            "service": {"name": r.service},
            "request": {"uid": r.request_id, **({"data": _json(r.request)} if v2 else {})},
        },
        "resources": (
            [
                {"uid": arn, "type": typ, **({} if v2 else {"account_uid": account_uid})}
                for arn, typ in r.resources
            ]
            or None
            if r.kind == "api"
            else None
        ),
        "dst_endpoint": None if r.kind == "account" else {"svc_name": _console(r)},
        "actor": {
            "user": _user(a.arn, a.principal_id, a.name, v2)
            | {
                "type": a.type,
                "credential_uid": a.credential_uid,
                **(
                    {"account": {"uid": a.account_uid} if a.account_uid else None}
                    if v2
                    else {"account_uid": a.account_uid}
                ),
            },
            "session": {
                "created_time": a.session_created,
                ("is_mfa" if v2 else "mfa"): a.session_mfa,
                "issuer": a.session_issuer,
            },
            "invoked_by": a.invoked_by,
            "idp": {"name": a.idp} if a.idp or not v2 else None,
        },
        "http_request": {"user_agent": r.user_agent},
        "src_endpoint": {"uid": r.vpce, "ip": r.ip, "domain": r.domain},
        "class_name": class_name,
        "class_uid": class_uid,
        "category_name": category_name,
        "category_uid": category_uid,
        "severity_id": 1,
        "severity": "Informational",
        "user": _target(r, v2),
        "activity_name": activity,
        "activity_id": r.activity_id,
        "type_uid": class_uid * 100 + r.activity_id,
        "type_name": f"{class_name}: {activity}",
        "status": status,
        "status_id": status_id,
        ("is_mfa" if v2 else "mfa"): r.mfa if r.kind == "auth" else None,
        "unmapped": _unmapped(r, account_uid, v2),
    }
    if v2:
        row |= {
            "time_dt": datetime.fromtimestamp(r.time / 1000, UTC),
            "observables": _observables(r) or None,
            "accountid": account_uid,
            "region": region,
            "asl_version": version,
        }
    return row


def _user(arn: str | None, principal_id: str | None, name: str | None, v2: bool) -> dict:
    if v2:
        return {"uid": arn, "uid_alt": principal_id, "name": name}
    return {"uid": principal_id, "uuid": arn, "name": name}


def _target(r: CtRecord, v2: bool) -> dict | None:
    """Who was signed in to, assumed or changed. 1.0 names a user by its principal id alone
    where CloudTrail gives no ARN (a failed sign-in, an MFA check), as AWS's files do; 1.1.0's
    user must have a uid (the ARN), a name or an account, so it gets the user's name."""
    if r.target is None or r.kind == "api":
        return None
    t = r.target
    name = t.name or (r.actor.name if v2 and t.arn is None else None)
    return _user(t.arn, t.principal_id, name, v2)


def _console(r: CtRecord) -> str | None:
    return r.extra.get("LoginTo") if r.operation == "ConsoleLogin" else None


def _json(value: dict[str, str] | None) -> str | None:
    return json.dumps(value, separators=(",", ":"), sort_keys=True) if value else None


def _unmapped(r: CtRecord, account_uid: str, v2: bool) -> list[tuple[str, str]]:
    # what OCSF maps elsewhere stays out: the console's URL (dst_endpoint), MFA (mfa / is_mfa)
    out = [
        (f"additionalEventData.{k}", v)
        for k, v in r.extra.items()
        if k not in ("LoginTo", "MFAUsed")
    ]
    if not v2:
        out += [(f"requestParameters.{k}", v) for k, v in (r.request or {}).items()]
        out += [(f"responseElements.{k}", v) for k, v in (r.response or {}).items()]
        if r.resources and r.kind != "api":  # API Activity has a resources column
            out.append(("resources[].ARN", ",".join(arn for arn, _ in r.resources)))
            out.append(("resources[].type", ",".join(t for _, t in r.resources)))
            out.append(("resources[].accountId", ",".join(account_uid for _ in r.resources)))
        out.append(("eventType", r.event_type))
    out.append(("recipientAccountId", account_uid))
    return out


def _observables(r: CtRecord) -> list[dict[str, Any]]:
    out = []
    if r.ip:
        out.append({"name": "src_endpoint.ip", "type": "IP Address", "type_id": 2, "value": r.ip})
    if r.actor.name:
        out.append(
            {"name": "actor.user.name", "type": "User Name", "type_id": 4, "value": r.actor.name}
        )
    return out
