"""lakewatch's findings in Security Hub: its OCSF Detection Findings as AWS Security Finding
Format (ASFF) findings, imported with ``BatchImportFindings`` under the account's own
custom-integration product (``arn:aws:securityhub:<region>:<account>:product/<account>/default``).

(``lake.security_hub`` is the other direction: Security Hub's findings read back from the lake.)

- The ASFF ``Id`` is the finding's ``finding_info.uid``, which names the behaviour (a pair or an
  incident in its hour), not the model that found it: a re-delivered object, another object of
  the same hour, or the next night's model updates the same Security Hub finding instead of
  adding one.
- ``AwsAccountId`` is the account that imports (the default product ARN accepts no other); the
  account the activity happened in is in ``Resources`` (the instance's ARN) and
  ``ProductFields``.
- Batches of at most ``MAX_BATCH`` findings and ``MAX_BATCH_BYTES``; a call that is throttled or
  fails on the service's side (after botocore's own retries, ``aws.clients.RETRIES``), and each
  ``FailedFindings`` entry worth another try, is retried with exponential backoff,
  ``max_attempts`` calls in all. What still fails is returned in
  ``Imported.failed``, never raised: the caller has the finding in its own store already
  (the scorer counts it, ``FindingsNotImported``), and Security Hub holds a copy.
- ``record_verdict``: an analyst's false positive archives the finding (``RecordState``
  ``ARCHIVED``, the one workflow field a finding provider may change with ``BatchImportFindings``),
  a true positive makes it active again: the same finding imported again with a later
  ``UpdatedAt``. The scorer's imports send no ``RecordState``.
"""

from __future__ import annotations

import ipaddress
import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from lakewatch.settings import Settings

SCHEMA_VERSION = "2018-10-08"
MAX_BATCH = 100  # findings per BatchImportFindings call
MAX_BATCH_BYTES = 5 * 2**20  # under the call's 6 MB
MAX_FINDING_BYTES = 240 * 1024
MAX_TITLE, MAX_DESCRIPTION, MAX_PRODUCT_FIELD = 256, 1024, 2048
MAX_PRODUCT_FIELDS = 50
# the hour the finding's uid names (``scoring.pair_findings.WINDOW_MS``): its CreatedAt, the
# same for every piece and every re-delivery of the finding
HOUR_MS = 3_600_000

SEVERITY_LABELS = {
    1: "INFORMATIONAL",
    2: "LOW",
    3: "MEDIUM",
    4: "HIGH",
    5: "CRITICAL",
    6: "CRITICAL",
}
# ASFF types (namespace/category/classifier): lakewatch's kinds as custom classifiers
TYPE_CATEGORY = {"unknown_entity": "Unusual Behaviors/VM"}
DEFAULT_CATEGORY = "Unusual Behaviors/Network Flow"
RECORD_STATES = {"false_positive": "ARCHIVED", "true_positive": "ACTIVE"}

# error codes worth another try: throttling (Security Hub's is LimitExceededException, 429)
# and the service's own failures
RETRYABLE = frozenset(
    {
        "LimitExceededException",
        "ThrottlingException",
        "TooManyRequestsException",
        "InternalException",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
    }
)
# ``FailedFindings`` codes no retry changes: a finding Security Hub will not take, or an account
# where it is disabled (InvalidAccess) or the caller may not import
PERMANENT = ("InvalidInput", "InvalidAccess", "AccessDenied", "FindingSizeExceeded")


@dataclass(frozen=True)
class Hub:
    """Where findings go: the account's Security Hub in ``region``, through ``client`` (a
    boto3 ``securityhub`` client), as ``account_id``'s custom integration."""

    client: Any
    account_id: str
    region: str
    partition: str = "aws"

    @property
    def product_arn(self) -> str:
        return product_arn(self.region, self.account_id, self.partition)


def product_arn(region: str, account_id: str, partition: str = "aws") -> str:
    """The ARN of the account's custom integration, the default product of every account."""
    return f"arn:{partition}:securityhub:{region}:{account_id}:product/{account_id}/default"


def hub_for(settings: Settings, clients: Callable[[str], Any]) -> Hub | None:
    """The settings' Security Hub (``Settings.security_hub_findings``), None when it is off."""
    if not settings.security_hub_findings:
        return None
    return Hub(clients("securityhub"), settings.account_id, settings.region)


# OCSF -> ASFF -------------------------------------------------------------------------------


def iso(ms: int) -> str:
    """Epoch milliseconds as the ISO 8601 UTC timestamp ASFF takes."""
    at = datetime.fromtimestamp(ms / 1000, UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _types(kind: str, shape: str) -> list[str]:
    classifier = "lakewatch-" + kind + (f"-{shape}" if shape else "")
    return [f"{TYPE_CATEGORY.get(kind, DEFAULT_CATEGORY)}/{classifier}"]


def _resources(finding: dict[str, Any]) -> list[dict[str, Any]]:
    """The finding's instances as ASFF resources, named by their ARN in the account the
    activity was seen in."""
    cloud = finding.get("cloud") or {}
    account = (cloud.get("account") or {}).get("uid") or ""
    out = []
    for r in finding.get("resources") or []:
        uid = str(r.get("uid") or "")
        if not uid:
            continue
        partition = r.get("cloud_partition") or "aws"
        region = r.get("region") or cloud.get("region") or ""
        if uid.startswith("i-") and account and region:
            arn = f"arn:{partition}:ec2:{region}:{account}:instance/{uid}"
            out.append(
                {"Type": "AwsEc2Instance", "Id": arn, "Partition": partition, "Region": region}
            )
        else:
            out.append({"Type": "Other", "Id": uid, "Partition": partition, "Region": region})
    return out or [{"Type": "Other", "Id": str(finding["finding_info"]["uid"])}]


def _network(finding: dict[str, Any], view: str) -> dict[str, Any] | None:
    """A pair finding's connection: the peer's address on the side its direction names."""
    evidences = finding.get("evidences") or []
    if len(evidences) != 1:
        return None
    ev = evidences[0]
    inbound = view == "ingress_peer"
    peer = ((ev.get("src_endpoint") if inbound else ev.get("dst_endpoint")) or {}).get("ip")
    try:
        version = ipaddress.ip_address(str(peer)).version
    except ValueError:
        return None
    side = "Source" if inbound else "Destination"
    return {"Direction": "IN" if inbound else "OUT", f"{side}IpV{version}": str(peer)}


def _product_fields(finding: dict[str, Any], unmapped: dict[str, str]) -> dict[str, str]:
    cloud = finding.get("cloud") or {}
    fields = {
        "lakewatch/ocsf_uid": str((finding.get("metadata") or {}).get("uid") or ""),
        "lakewatch/account": str((cloud.get("account") or {}).get("uid") or ""),
        **{
            "lakewatch/" + k.removeprefix("lakewatch."): str(v)
            for k, v in unmapped.items()
            if k.startswith("lakewatch.")
        },
    }
    return {
        k[:128]: v[:MAX_PRODUCT_FIELD] for k, v in list(fields.items())[:MAX_PRODUCT_FIELDS] if v
    }


def to_asff(
    finding: dict[str, Any],
    *,
    account_id: str,
    region: str,
    partition: str = "aws",
    updated_ms: int | None = None,
    record_state: str | None = None,
) -> dict[str, Any]:
    """One OCSF Detection Finding (``scoring.pair_findings.base_finding``'s shape, or as read
    back from the results bucket) as the ASFF finding ``account_id`` imports in ``region``.
    ``updated_ms``: its UpdatedAt (default: the finding's ``time``, when it was scored)."""
    info = finding["finding_info"]
    unmapped = {str(k): str(v) for k, v in dict(finding.get("unmapped") or {}).items()}
    kind = unmapped.get("lakewatch.kind", "finding")
    shape = unmapped.get("lakewatch.incident_shape", "")
    severity = SEVERITY_LABELS.get(int(finding.get("severity_id") or 0), "INFORMATIONAL")
    types = _types(kind, shape)
    start = int(finding.get("start_time") or finding.get("time") or 0)
    updated = int(updated_ms if updated_ms is not None else finding.get("time") or start)
    title = str(info.get("title") or finding.get("message") or kind)
    out: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": str(info["uid"]),
        "ProductArn": product_arn(region, account_id, partition),
        "ProductName": "lakewatch",
        "CompanyName": "lakewatch",
        "GeneratorId": f"lakewatch/{kind}" + (f"/{shape}" if shape else ""),
        "AwsAccountId": account_id,
        "Types": types,
        "CreatedAt": iso(start - start % HOUR_MS),
        "UpdatedAt": iso(max(updated, start)),
        "FirstObservedAt": iso(start),
        "LastObservedAt": iso(int(finding.get("end_time") or start)),
        "Severity": {"Label": severity, "Original": str(finding.get("severity") or severity)},
        "FindingProviderFields": {
            "Severity": {"Label": severity, "Original": str(finding.get("severity") or severity)},
            "Types": types,
        },
        "Title": title[:MAX_TITLE],
        "Description": (str(info.get("desc") or "") or title)[:MAX_DESCRIPTION],
        "Resources": _resources(finding),
        "ProductFields": _product_fields(finding, unmapped),
    }
    network = _network(finding, unmapped.get("lakewatch.view", ""))
    if network is not None:
        out["Network"] = network
    if record_state is not None:
        out["RecordState"] = record_state
    return out


# import -------------------------------------------------------------------------------------


@dataclass
class Imported:
    """What an import did: findings Security Hub took, and each one it did not with the last
    error (after the retries)."""

    imported: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # finding Id -> last error
    retries: int = 0

    @property
    def not_imported(self) -> int:
        return len(self.failed)

    def first_error(self) -> str:
        return next(iter(self.failed.values()), "")

    def add(self, other: Imported) -> None:
        self.imported += other.imported
        self.failed.update(other.failed)
        self.retries += other.retries


def _batches(findings: Sequence[dict[str, Any]], failed: dict[str, str]) -> list[list[dict]]:
    """Batches of at most ``MAX_BATCH`` findings and ``MAX_BATCH_BYTES``; a finding over
    ``MAX_FINDING_BYTES`` is failed, not sent; the same Id twice is sent once (the last)."""
    unique = {f["Id"]: f for f in findings}
    out: list[list[dict]] = []
    size = 0
    for f in unique.values():
        n = len(json.dumps(f, separators=(",", ":")).encode())
        if n > MAX_FINDING_BYTES:
            failed[f["Id"]] = f"FindingSizeExceeded: {n:,} bytes (Security Hub takes 240 KB)"
            continue
        if not out or len(out[-1]) >= MAX_BATCH or size + n > MAX_BATCH_BYTES:
            out.append([])
            size = 0
        out[-1].append(f)
        size += n
    return out


def _permanent(code: str) -> bool:
    return code.startswith(PERMANENT)


def _client_error(err: ClientError) -> tuple[str, bool]:
    """(``code: message``, whether to try again)."""
    error = err.response.get("Error", {})
    code = str(error.get("Code") or "")
    status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    retry = code in RETRYABLE or status == 429 or status >= 500
    return f"{code or status}: {error.get('Message') or err}", retry


def import_findings(
    client: Any,
    findings: Iterable[dict[str, Any]],
    *,
    max_attempts: int = 3,
    base_delay: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
) -> Imported:
    """Import ASFF ``findings`` (``to_asff``) in batches; never raises for Security Hub's
    answer: what is not imported after ``max_attempts`` is in ``failed``."""
    out = Imported()
    for batch in _batches(list(findings), out.failed):
        pending = batch
        for attempt in range(1, max_attempts + 1):
            last = attempt == max_attempts
            try:
                response = client.batch_import_findings(Findings=pending)
            except ClientError as err:
                reason, retry = _client_error(err)
            except ParamValidationError as err:  # the request is malformed: no retry helps
                reason, retry = f"ParamValidationError: {err}", False
            except BotoCoreError as err:  # no connection, timed out
                reason, retry = f"{type(err).__name__}: {err}", True
            else:
                answered = {str(f.get("Id")): f for f in response.get("FailedFindings") or []}
                out.imported += len(pending) - len(answered)
                again = []
                for f in pending:
                    if f["Id"] not in answered:
                        continue
                    code = str(answered[f["Id"]].get("ErrorCode") or "")
                    why = f"{code}: {answered[f['Id']].get('ErrorMessage') or ''}".strip()
                    if _permanent(code) or last:
                        out.failed[f["Id"]] = why
                    else:
                        again.append(f)
                if not again:
                    break
                pending = again
                out.retries += 1
                sleep(base_delay * 2 ** (attempt - 1) * (0.5 + random.random()))
                continue
            if not retry or last:
                out.failed.update({f["Id"]: reason for f in pending})
                break
            out.retries += 1
            sleep(base_delay * 2 ** (attempt - 1) * (0.5 + random.random()))
    return out


def import_ocsf(hub: Hub, findings: Iterable[dict[str, Any]], **retry: Any) -> Imported:
    """OCSF findings (as the scorer writes them) imported into ``hub``."""
    asff = [
        to_asff(f, account_id=hub.account_id, region=hub.region, partition=hub.partition)
        for f in findings
    ]
    return import_findings(hub.client, asff, **retry)


def record_verdict(
    hub: Hub, finding: dict[str, Any], verdict: str, *, now_ms: int | None = None, **retry: Any
) -> Imported:
    """An analyst's verdict on ``finding`` in Security Hub: a false positive archived, a true
    positive active (again), by importing it with that ``RecordState`` and ``UpdatedAt`` now."""
    state = RECORD_STATES[verdict]
    now = int(time.time() * 1000) if now_ms is None else now_ms
    asff = to_asff(
        finding,
        account_id=hub.account_id,
        region=hub.region,
        partition=hub.partition,
        updated_ms=now,
        record_state=state,
    )
    return import_findings(hub.client, [asff], **retry)
