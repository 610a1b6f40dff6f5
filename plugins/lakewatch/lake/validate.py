"""Validate lake records against the OCSF JSON schema of their version.

Records are converted the way OCSF serialises them (nulls omitted, maps as objects, ``*_dt`` as
RFC 3339 strings) and checked with ``jsonschema`` against the schema ``ocsf-json-schema`` builds
for the record's class and profiles. Only the quirks AWS's own Security Lake output has are
allowed: trailing-dot hostnames, ``'-'`` addresses in NODATA/SKIPDATA rows, all-null
endpoint structs, and CloudTrail's AWS service callers: a ``src_endpoint`` that holds only the
service's name in ``domain`` (CloudTrail's ``sourceIPAddress`` is the service, not an address)
and an ``actor.user`` that holds only its type (``AWSService``: CloudTrail names no user; the
service is in ``actor.invoked_by``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema
import pyarrow as pa
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

# Columns Security Lake adds to its 2.0 tables that are not OCSF attributes.
LAKE_ONLY_COLUMNS = ("accountid", "region", "asl_version", "eventday")

_AWS_SERVICE = re.compile(r"^([a-z0-9-]+\.)+amazonaws\.com$|^AWS Internal$")
_HOSTNAME = re.compile(
    r"^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*"
    r"([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9])$"
)


@dataclass(frozen=True)
class Violation:
    row: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.path or '<record>'}: {self.message}"


@cache
def _validator(ocsf_version: str, class_uid: int, profiles: tuple[str, ...]):
    schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(ocsf_version))
    class_name = schema.lookup_class_name_from_uid(class_uid)
    class_schema = schema.get_class_schema(class_name, list(profiles))
    cls = jsonschema.validators.validator_for(class_schema)
    return cls(class_schema, format_checker=cls.FORMAT_CHECKER)


def to_ocsf_json(record: dict[str, Any]) -> dict[str, Any]:
    """An Arrow/Parquet row as the OCSF JSON event it represents."""
    out = _clean({k: v for k, v in record.items() if k not in LAKE_ONLY_COLUMNS})
    if isinstance(record.get("unmapped"), list):
        out["unmapped"] = {k: v for k, v in record["unmapped"]}
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value


def _allowed(error: jsonschema.ValidationError, record: dict[str, Any]) -> bool:
    path = [str(p) for p in error.absolute_path]
    value = error.instance
    if path == ["query", "hostname"] and isinstance(value, str) and value.endswith("."):
        return bool(_HOSTNAME.match(value[:-1]))
    if path[-1:] == ["ip"] and value == "-" and record.get("status_code") in ("NODATA", "SKIPDATA"):
        return True
    if path == ["src_endpoint"] and isinstance(value, dict) and set(value) == {"domain"}:
        return bool(_AWS_SERVICE.match(str(value["domain"])))
    if path == ["actor", "user"] and value == {"type": "AWSService"}:
        return bool(_AWS_SERVICE.match(str(record.get("actor", {}).get("invoked_by", ""))))
    return path[-1:] in (["src_endpoint"], ["dst_endpoint"]) and value == {}


def validate_record(record: dict[str, Any], ocsf_version: str, row: int = 0) -> list[Violation]:
    """The schema violations of one record, beyond AWS's known quirks."""
    event = to_ocsf_json(record)
    profiles = tuple(sorted(event.get("metadata", {}).get("profiles", [])))
    try:
        validator = _validator(ocsf_version, int(event["class_uid"]), profiles)
    except (KeyError, ValueError) as err:
        return [Violation(row, "class_uid", f"no OCSF {ocsf_version} class: {err}")]
    return [
        Violation(row, ".".join(str(p) for p in e.absolute_path), e.message[:200])
        for e in validator.iter_errors(event)
        if not _allowed(e, event)
    ]


def validate_table(
    table: pa.Table, ocsf_version: str, sample: int | None = None
) -> list[Violation]:
    """Violations in a table (every row, or the first ``sample`` rows)."""
    if sample is not None:
        table = table.slice(0, sample)
    out: list[Violation] = []
    for i, record in enumerate(table.to_pylist()):
        out.extend(validate_record(record, ocsf_version, i))
    return out
