"""The synthetic lake's Security Hub source: GuardDuty findings on some injected anomalies,
and unrelated findings every day, so that ranking by outside evidence has work to do.

Not every anomaly is reported (GuardDuty sees a C2 beacon more often than lateral movement
inside a VPC), and most days carry findings that have nothing to do with them: probes from
the internet on random instances, a root-credential policy finding, a security-group control.
One object per account and day, written after the day's flows (findings lag their activity).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from lakewatch.lake.schemas import sh_findings_schema
from lakewatch.lake.synthetic.options import Label

# kind -> (share of its events GuardDuty reports, finding type, severity id)
REPORTED: dict[str, tuple[float, str, int]] = {
    "c2_beacon": (0.7, "Backdoor:EC2/C&CActivity.B", 4),
    "exfiltration": (0.6, "Trojan:EC2/DropPoint", 4),
    "rare_domain": (0.5, "Trojan:EC2/DNSDataExfiltration", 4),
    "scan": (0.5, "Recon:EC2/PortProbeUnprotectedPort", 2),
    "lateral_movement": (0.3, "UnauthorizedAccess:EC2/TorClient", 3),
}
# unrelated findings: (type, severity id, names an instance, names a remote address)
NOISE: list[tuple[str, int, bool, bool]] = [
    ("Recon:EC2/PortProbeUnprotectedPort", 2, True, True),
    ("UnauthorizedAccess:EC2/SSHBruteForce", 2, True, True),
    ("Policy:IAMUser/RootCredentialUsage", 2, False, False),
    ("Software and Configuration Checks/AWS Security Best Practices/EC2.19", 3, True, False),
]
NOISE_PER_DAY = 4  # per account
_SEVERITY = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
_INTERNET = (23, 45, 61, 91, 103, 141, 185, 193, 203)  # first octets of the noise's probes


@dataclass(frozen=True)
class ShFinding:
    uid: str
    title: str
    types: str
    severity_id: int
    time: int
    instance: str | None
    address: str | None


def findings_for_day(
    labels: list[Label], instance_uids: Sequence[str], day_start_ms: int, rng: np.random.Generator
) -> list[ShFinding]:
    """Findings on some of the day's injected events (one per reported event, naming the
    instance and the remote address of its first labelled pair) and the day's noise on the
    account's instances (``instance_uids``: their ids that day)."""
    out = []
    events: dict[str, Label] = {}
    for label in sorted(labels, key=lambda lab: lab.time):
        events.setdefault(label.event_id, label)
    for event_id, first in events.items():
        share, kind_type, severity = REPORTED[first.kind]
        if rng.random() >= share:
            continue
        lag = int(rng.integers(5, 20)) * 60_000
        on = first.entity.removesuffix("/in")
        out.append(_finding(kind_type, severity, first.time + lag, on, first.ip, event_id))
    for k in range(NOISE_PER_DAY):
        kind_type, severity, on_instance, remote = NOISE[int(rng.integers(0, len(NOISE)))]
        instance = instance_uids[int(rng.integers(0, len(instance_uids)))] if on_instance else None
        address = (
            f"{_INTERNET[int(rng.integers(0, len(_INTERNET)))]}."
            + ".".join(str(int(x)) for x in rng.integers(1, 255, 3))
            if remote
            else None
        )
        at = day_start_ms + int(rng.integers(0, 86_400_000))
        out.append(_finding(kind_type, severity, at, instance, address, f"noise-{at}-{k}"))
    return out


def _finding(
    kind_type: str, severity: int, at: int, instance: str | None, address: str | None, seed: str
) -> ShFinding:
    uid = hashlib.sha256(f"{kind_type}|{instance}|{address}|{seed}".encode()).hexdigest()[:32]
    title = kind_type.rsplit("/", 1)[-1] + (f" on {instance}" if instance else "")
    return ShFinding(uid, title, kind_type, severity, at, instance, address)


def sh_table(findings: list[ShFinding], account_uid: str, region: str) -> pa.Table:
    """The findings as rows of Security Lake 2.0's SH_FINDINGS table."""
    rows = [
        {
            "metadata": {
                "product": {
                    "version": "2018-10-08",
                    "name": "Security Hub",
                    "feature": {"name": "GuardDuty"},
                    "vendor_name": "AWS",
                },
                "profiles": ["cloud", "datetime"],
                "version": "1.1.0",
            },
            "time": f.time,
            "time_dt": datetime.fromtimestamp(f.time / 1000, UTC),
            "cloud": {"account": {"uid": account_uid}, "region": region, "provider": "AWS"},
            "finding_info": {
                "uid": f"arn:aws:guardduty:{region}:{account_uid}:finding/{f.uid}",
                "title": f.title,
                "desc": f.title,
                "types": [f.types],
                "created_time": f.time,
            },
            "resources": (
                [{"uid": f.instance, "type": "AwsEc2Instance", "region": region}]
                if f.instance
                else [{"uid": account_uid, "type": "AwsAccount", "region": region}]
            ),
            "evidences": (
                [{"src_endpoint": {"ip": f.address, "instance_uid": None}, "dst_endpoint": None}]
                if f.address
                else None
            ),
            "observables": (
                [
                    {
                        "name": "evidences.src_endpoint.ip",
                        "type": "IP Address",
                        "type_id": 2,
                        "value": f.address,
                    }
                ]
                if f.address
                else None
            ),
            "severity_id": f.severity_id,
            "severity": _SEVERITY[f.severity_id],
            "status_id": 1,
            "status": "New",
            "class_name": "Detection Finding",
            "class_uid": 2004,
            "category_name": "Findings",
            "category_uid": 2,
            "activity_id": 1,
            "activity_name": "Create",
            "type_uid": 200401,
            "type_name": "Detection Finding: Create",
            "unmapped": [("ProductName", "GuardDuty")],
            "accountid": account_uid,
            "region": region,
            "asl_version": "2.0",
        }
        for f in sorted(findings, key=lambda f: f.time)
    ]
    return pa.Table.from_pylist(rows, schema=sh_findings_schema())
