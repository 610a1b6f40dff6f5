"""The analyst's desk: a day's findings to review, the verdicts on them, and suppressions.

One place for what the command line (``lakewatch findings``) and the review page in the
Airflow UI (``review/web.py``) both do, so the two never disagree on what a label means.

With Security Hub on (``Settings.security_hub_findings``, the desk's ``security_hub``), a
verdict also reaches the finding there (``aws.securityhub.record_verdict``): a false positive is
archived, a true positive made active again. The label is recorded first; Security Hub failing
is reported in ``security_hub_note``, never a failed label.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from lakewatch.aws import securityhub
from lakewatch.extract.views import View
from lakewatch.lake.security_hub import Evidence, read_evidence
from lakewatch.review import feedback
from lakewatch.review.reputation import Reputation
from lakewatch.review.rows import Row, find, rank, read_day, row_of
from lakewatch.review.usual import Usual, UsualByModel

log = logging.getLogger(__name__)


@dataclass
class Desk:
    store: Any  # the results bucket (``lake.sink.S3Store``)
    findings_prefix: str
    feedback_prefix: str
    reputation: Reputation | None = None
    usual_by_model: UsualByModel | None = None  # the entity's usual prefixes and peers
    lake: Any = None  # the lake bucket, for its Security Hub findings (None: not ranked by them)
    source_version: str = "2.0"
    evidence_note: str = ""  # why the last ranking had no (or partial) Security Hub evidence
    # where verdicts are recorded in Security Hub too (None: not recorded there)
    security_hub: securityhub.Hub | None = None
    security_hub_note: str = ""  # why the last verdict did not reach Security Hub
    _evidence: dict[date, tuple[list[Evidence], str]] = field(
        default_factory=dict, init=False, repr=False
    )  # per day: the findings and the note

    def findings(self, day: date) -> list[dict[str, Any]]:
        """The day's findings as written (OCSF Detection Findings)."""
        return read_day(self.store, self.findings_prefix, day)

    def reviewed(
        self, day: date, findings: list[dict[str, Any]] | None = None
    ) -> list[tuple[Row, str | None]]:
        """The day's findings (or ``findings``, already read), ranked (with the reputation
        list), each with its latest verdict (None when unlabelled)."""
        found = self.findings(day) if findings is None else findings
        return self.reviewed_rows(day, [row_of(f, day.isoformat()) for f in found])

    def reviewed_rows(self, day: date, rows: list[Row]) -> list[tuple[Row, str | None]]:
        """``reviewed`` for rows read some other way (the export's SQL)."""
        ranked_rows = rank(rows, self.reputation, self.evidence(day))
        latest = feedback.latest_verdicts(feedback.labels(self.store, self.feedback_prefix))
        return [(r, latest[r.uid].verdict if r.uid in latest else None) for r in ranked_rows]

    def evidence(self, day: date) -> list[Evidence]:
        """Security Hub's findings of the day and the next (findings lag their activity), read
        once per desk and day. A lake this reviewer cannot read ranks without them, and
        ``evidence_note`` says why."""
        if day not in self._evidence:
            self._evidence[day] = self._read_evidence(day)
        found, self.evidence_note = self._evidence[day]
        return found

    def _read_evidence(self, day: date) -> tuple[list[Evidence], str]:
        if self.lake is None:
            return [], ""
        try:
            found = read_evidence(self.lake, self.source_version, [day, day + timedelta(days=1)])
        except ClientError as err:
            note = f"Security Hub findings not read from {self.lake.uri()}: {err}"
            log.warning(note)
            return [], note
        if not found.skipped:
            return found.findings, ""
        note = f"{len(found.skipped)} Security Hub row(s) skipped, e.g. {found.skipped[0]}"
        log.warning(note)
        return found.findings, note

    def finding(self, day: date, uid: str) -> dict[str, Any]:
        """The finding whose uid is (or starts with) ``uid``; ``FindingNotFound`` if none."""
        return find(read_day(self.store, self.findings_prefix, day), uid)

    def usual(self, row: Row) -> Usual | None:
        """What the finding's (first) instance usually does, in the view it was flagged in
        (an inbound pair's entity is ``<id>/in``), over its model's training window."""
        if self.usual_by_model is None or not row.instances or not row.model_id or row.is_rcf:
            return None  # an RCF hour's model has no address pairs: its features explain it
        entity = row.instances[0] + ("/in" if row.view == View.INGRESS_PEER else "")
        return self.usual_by_model.usual(row.model_id, entity)

    def history(self, uid: str) -> list[feedback.Label]:
        return [
            lab
            for lab in feedback.labels(self.store, self.feedback_prefix)
            if lab.finding_uid == uid
        ]

    def label(self, day: date, uid: str, verdict: str, note: str, who: str) -> tuple[Row, str]:
        """Record ``who``'s verdict on a finding; returns its row and the label's key. The
        pair is named as the views name it (an inbound pair's entity is ``<id>/in``), so
        training and recalibration can use it."""
        finding = self.finding(day, uid)
        row = row_of(finding, day.isoformat())
        if len(row.instances) != 1 or len(row.addresses) != 1:  # an incident: its members
            entity, ip = ",".join(row.instances), ",".join(row.addresses)
        else:
            entity = row.instances[0] + ("/in" if row.view == View.INGRESS_PEER else "")
            ip = row.addresses[0]
        label = feedback.Label(
            finding_uid=row.uid,
            verdict=verdict,
            entity=entity,
            ip=ip,
            view=row.view,
            day=row.day,
            note=note,
            who=who,
            when=datetime.now(UTC).isoformat(),
        )
        key = feedback.add_label(self.store, self.feedback_prefix, label)
        self.security_hub_note = record_in_security_hub(self.security_hub, finding, verdict)
        return row, key

    def suppress(
        self,
        entity: str,
        address: str | None,
        cidr: str | None,
        view: str | None,
        days: int,
        note: str,
        who: str,
    ) -> tuple[feedback.Suppression, str]:
        """Silence ``entity``'s address or range (in one view, or all) for ``days``."""
        suppression = feedback.suppression_for(entity, address, cidr, view, days, note, who)
        return suppression, feedback.add_suppression(self.store, self.feedback_prefix, suppression)


def record_in_security_hub(
    hub: securityhub.Hub | None, finding: dict[str, Any], verdict: str
) -> str:
    """The analyst's ``verdict`` on ``finding`` in Security Hub (a false positive archived, a
    true positive active), when ``hub`` is set; "" when it got there or there is no hub, else
    why not (logged too)."""
    if hub is None:
        return ""
    try:
        done = securityhub.record_verdict(hub, finding, verdict)
    except Exception as err:  # the label is recorded: Security Hub is a copy
        reason = f"{type(err).__name__}: {err}"
    else:
        if not done.failed:
            return ""
        reason = done.first_error()
    note = (
        f"label recorded, but finding {finding['finding_info']['uid']} was not "
        f"{securityhub.RECORD_STATES[verdict].lower()} in Security Hub: {reason}"
    )
    log.warning(note)
    return note
