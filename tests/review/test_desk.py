"""review.desk: what the command line and the review page share: a day's findings ranked with
each one's latest verdict, labels that name the pair as the views do (an inbound pair's entity
is ``<id>/in``, an incident's its members), a finding's label history, suppressions, and a
verdict reaching Security Hub when it is on."""

import json
from dataclasses import replace
from datetime import date

from botocore.exceptions import ClientError

from lakewatch.aws import securityhub
from lakewatch.review import feedback
from lakewatch.review.desk import Desk
from tests.aws.test_securityhub import _stored
from tests.review.conftest import DAY, lake_with_guardduty


def test_labels_name_pairs_as_the_views_do_and_the_latest_verdict_shows(reviewed):
    settings, store, uids = reviewed
    desk = Desk(store, settings.findings_prefix, settings.feedback_prefix)
    assert [verdict for _, verdict in desk.reviewed(DAY)] == [None, None]
    egress, ingress = uids
    row, key = desk.label(DAY, egress[:10], "true_positive", "beacon", "alice")
    assert row.uid == egress and key.startswith(f"{settings.feedback_prefix}labels/")
    desk.label(DAY, egress, "false_positive", "backup job", "bob")
    _, inbound_key = desk.label(DAY, ingress, "false_positive", "", "alice")
    inbound = feedback.Label(**json.loads(store.get(inbound_key)))
    assert (inbound.entity, inbound.ip, inbound.view) == ("i-2/in", "10.9.8.7", "ingress_peer")
    verdicts = {row.uid: verdict for row, verdict in desk.reviewed(DAY)}
    assert verdicts == {egress: "false_positive", ingress: "false_positive"}  # bob's, latest
    assert [(lab.who, lab.note) for lab in desk.history(egress)] == [
        ("alice", "beacon"),
        ("bob", "backup job"),
    ]


def test_findings_already_read_are_ranked_without_reading_again(reviewed):
    settings, store, uids = reviewed
    desk = Desk(store, settings.findings_prefix, settings.feedback_prefix)
    found = desk.findings(DAY)
    assert [row.uid for row, _ in desk.reviewed(DAY, found)] == uids  # severity first
    assert desk.findings(date(2026, 11, 29)) == []
    assert desk.finding(DAY, uids[1][:12]) == found[1]


def test_a_suppression_is_stored_with_its_expiry(reviewed):
    settings, store, _ = reviewed
    desk = Desk(store, settings.findings_prefix, settings.feedback_prefix)
    suppression, key = desk.suppress("i-1", None, "45.110.185.0/24", "egress_peer", 7, "cdn", "al")
    assert feedback.read_suppression(store, key) == suppression
    assert suppression.covers("i-1", "45.110.185.181", "egress_peer")
    assert not suppression.covers("i-1", "45.110.185.181", "ingress_peer")


def test_security_hub_evidence_in_the_lake_raises_the_finding_it_names(reviewed, clients):
    settings, store, uids = reviewed
    egress, ingress = uids
    lake = lake_with_guardduty(clients, settings, "i-2", "10.9.8.7")
    desk = Desk(store, settings.findings_prefix, settings.feedback_prefix, lake=lake)
    rows = {row.uid: row for row, _ in desk.reviewed(DAY)}
    assert rows[ingress].corroborated_by == ("Recon on i-2",) and desk.evidence_note == ""
    assert rows[ingress].priority == rows[ingress].severity_id + 2.0  # on its address
    assert rows[egress].corroborated_by == ()


def test_a_lake_it_cannot_read_ranks_without_it_and_says_why(reviewed, clients):
    from lakewatch.lake.sink import S3Store

    settings, store, uids = reviewed
    lake = S3Store(clients("s3"), "no-such-lake-bucket")
    desk = Desk(store, settings.findings_prefix, settings.feedback_prefix, lake=lake)
    assert [row.uid for row, _ in desk.reviewed(DAY)] == uids
    assert "Security Hub findings not read from s3://no-such-lake-bucket" in desk.evidence_note


def test_security_hub_evidence_is_read_once_per_desk_and_day(reviewed, clients):
    settings, store, _ = reviewed
    lake = lake_with_guardduty(clients, settings, "i-2", "10.9.8.7")
    reads = []
    real_get = lake.get
    lake.get = lambda key: reads.append(key) or real_get(key)
    desk = Desk(store, settings.findings_prefix, settings.feedback_prefix, lake=lake)
    first = desk.evidence(DAY)
    desk.reviewed(DAY)
    assert len(first) == 1 and len(reads) == 1  # the ranking used what was read


def test_a_false_positive_label_archives_the_finding_in_security_hub(reviewed, clients):
    """With Security Hub on, the label is recorded, then the finding there archived (a true
    positive makes it active again); a hub that refuses is a note, never a failed label."""
    settings, store, uids = reviewed
    egress, ingress = uids
    client = clients("securityhub")
    client.enable_security_hub(EnableDefaultStandards=False)
    hub = securityhub.Hub(client, settings.account_id, settings.region)
    desk = Desk(store, settings.findings_prefix, settings.feedback_prefix, security_hub=hub)
    assert securityhub.import_ocsf(hub, desk.findings(DAY)).imported == 2  # as the scorer did
    desk.label(DAY, egress[:10], "false_positive", "backup job", "alice")
    assert desk.security_hub_note == ""
    assert _stored(client, {egress})[egress]["RecordState"] == "ARCHIVED"
    assert "RecordState" not in _stored(client, {ingress})[ingress]  # unlabelled: untouched
    desk.label(DAY, egress, "true_positive", "no: exfiltration", "bob")
    assert _stored(client, {egress})[egress]["RecordState"] == "ACTIVE"

    refusing = Desk(
        store,
        settings.findings_prefix,
        settings.feedback_prefix,
        security_hub=securityhub.Hub(_Refusing(), settings.account_id, settings.region),
    )
    _, key = refusing.label(DAY, ingress, "false_positive", "", "alice")
    assert feedback.Label(**json.loads(store.get(key))).verdict == "false_positive"
    assert "not archived in Security Hub" in refusing.security_hub_note
    assert "AccessDeniedException" in refusing.security_hub_note
    assert Desk(store, settings.findings_prefix, settings.feedback_prefix).security_hub is None


class _Refusing:
    """Security Hub answering a caller that may not import."""

    def batch_import_findings(self, **kwargs):
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "BatchImportFindings"
        )


def test_an_rcf_hour_has_no_usual_prefixes_and_reads_no_window(reviewed):
    """An RCF finding's model is trained on feature rows, not address pairs: asking for its
    'usual prefixes' would read a window that has none (and evict the pair model's)."""
    settings, store, _ = reviewed
    asked: list[tuple[str, str]] = []

    class Usuals:
        def usual(self, model_id, entity):
            asked.append((model_id, entity))
            return "usual"

    desk = Desk(store, settings.findings_prefix, settings.feedback_prefix, usual_by_model=Usuals())
    pair = desk.reviewed(DAY)[0][0]
    assert desk.usual(pair) == "usual" and asked == [(pair.model_id, pair.instances[0])]
    assert desk.usual(replace(pair, kind="rcf", model_id="rcf-1")) is None
    assert desk.usual(replace(pair, kind="incident", view="rcf_features")) is None
    assert len(asked) == 1
