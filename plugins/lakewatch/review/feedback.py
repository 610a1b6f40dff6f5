"""Analysts' labels and suppressions, kept as data beside the findings.

Each label or suppression is its own small JSON object under
``<feedback_prefix>labels/day=YYYY-MM-DD/`` or ``suppressions/day=YYYY-MM-DD/`` (the day it
was made), named by its time and a random id: append-only, so two analysts labelling at once
never overwrite each other, and the latest label of a finding wins when they disagree. Every
record says who, when and why; Athena reads them as JSON tables (the DDL:
docs/operate.md#findings-in-athena).
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from lakewatch.extract.views import VIEWS as PAIR_VIEWS
from lakewatch.names import feedback_key, feedback_prefix_of

Verdict = Literal["true_positive", "false_positive"]
VERDICTS: tuple[str, ...] = ("true_positive", "false_positive")
# what a suppression may be limited to, as plain strings: argparse's choices and the page
# print them (a View's repr is not its value)
VIEWS: tuple[str, ...] = tuple(view.value for view in PAIR_VIEWS)


@dataclass(frozen=True)
class Label:
    finding_uid: str
    verdict: str
    entity: str
    ip: str
    view: str
    day: str  # the finding's day
    note: str
    who: str
    when: str  # ISO 8601, UTC

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, not {self.verdict!r}")


@dataclass(frozen=True)
class Suppression:
    entity: str
    cidr: str  # a single address is its /32 (or /128)
    view: str  # "" = every view
    expires: str  # ISO 8601, UTC
    note: str
    who: str
    when: str

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_network(self.cidr, strict=False)
        except ValueError as err:
            raise ValueError(f"not an address or CIDR: {self.cidr!r}") from err
        if self.view and self.view not in VIEWS:
            raise ValueError(f"view must be one of {', '.join(VIEWS)}, not {self.view!r}")

    def active(self, now: datetime) -> bool:
        return datetime.fromisoformat(self.expires) > now

    def covers(self, entity: str, ip: str, view: str) -> bool:
        """Does this suppression silence (entity, ip) in ``view``? An instance's entity
        covers its ``/in`` (inbound) entity too."""
        if entity not in (self.entity, f"{self.entity}/in") or (self.view and view != self.view):
            return False
        try:
            return ipaddress.ip_address(ip) in ipaddress.ip_network(self.cidr, strict=False)
        except ValueError:
            return False


def _now() -> datetime:
    return datetime.now(UTC)


def _key(prefix: str, what: str, when: datetime) -> str:
    return feedback_key(prefix, what, when, uuid.uuid4().hex[:12])


def add_label(store: Any, prefix: str, label: Label) -> str:
    key = _key(prefix, "labels", datetime.fromisoformat(label.when))
    store.put(key, json.dumps(asdict(label)).encode())
    return key


def add_suppression(store: Any, prefix: str, suppression: Suppression) -> str:
    key = _key(prefix, "suppressions", datetime.fromisoformat(suppression.when))
    store.put(key, json.dumps(asdict(suppression)).encode())
    return key


def suppression_for(
    entity: str,
    address: str | None,
    cidr: str | None,
    view: str | None,
    days: int,
    note: str,
    who: str,
    now: datetime | None = None,
) -> Suppression:
    """A suppression from the command line's terms; exactly one of address and CIDR."""
    if (address is None) == (cidr is None):
        raise ValueError("give exactly one of --address and --cidr")
    if days < 1:
        raise ValueError(f"--days must be at least 1, not {days}")
    now = now or _now()
    target = str(ipaddress.ip_network(address if address else cidr or "", strict=False))
    return Suppression(
        entity,
        target,
        view or "",
        (now + timedelta(days=days)).isoformat(),
        note,
        who,
        now.isoformat(),
    )


def labels(store: Any, prefix: str) -> list[Label]:
    """Every label, oldest first."""
    keys = sorted(
        k for k in store.list(feedback_prefix_of(prefix, "labels")) if k.endswith(".json")
    )
    out = [Label(**json.loads(store.get(k))) for k in keys]
    return sorted(out, key=lambda lab: lab.when)


def latest_verdicts(all_labels: list[Label]) -> dict[str, Label]:
    """Each finding's latest label."""
    return {lab.finding_uid: lab for lab in sorted(all_labels, key=lambda lab: lab.when)}


def suppression_keys(store: Any, prefix: str) -> list[str]:
    """The keys of every suppression, expired ones included."""
    where = feedback_prefix_of(prefix, "suppressions")
    return sorted(k for k in store.list(where) if k.endswith(".json"))


def read_suppression(store: Any, key: str) -> Suppression:
    return Suppression(**json.loads(store.get(key)))


def suppressions(store: Any, prefix: str, now: datetime | None = None) -> list[Suppression]:
    """Suppressions in force at ``now`` (every one when ``now`` is None)."""
    out = [read_suppression(store, k) for k in suppression_keys(store, prefix)]
    return [s for s in out if now is None or s.active(now)]


def labelled_pairs(
    store: Any, prefix: str, through: date | None = None
) -> dict[str, list[tuple[str, str]]]:
    """Each verdict's (entity, ip) pairs: those whose latest label it is, of findings up to
    the day ``through`` (a training run takes the labels of its window's days and of its own
    day: an analyst's verdict this morning counts tonight; incidents, which label several
    pairs at once, are left out). The labels are read once for every verdict."""
    out: dict[str, set[tuple[str, str]]] = {v: set() for v in VERDICTS}
    for lab in latest_verdicts(labels(store, prefix)).values():
        if "," not in lab.entity + lab.ip and (
            through is None or date.fromisoformat(lab.day) <= through
        ):
            out[lab.verdict].add((lab.entity, lab.ip))
    return {v: sorted(pairs) for v, pairs in out.items()}
