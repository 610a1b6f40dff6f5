"""aws.securityhub: lakewatch's findings as ASFF, imported into the emulator's Security Hub:
every required field, idempotent by the behaviour's id (a re-delivery and the next night's
model update the finding), batches of at most 100, throttling and failed findings retried a
bounded number of times then counted, an analyst's verdict archiving or reactivating it."""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from lakewatch.aws import securityhub
from lakewatch.aws.securityhub import Hub, import_findings, import_ocsf, record_verdict, to_asff
from lakewatch.lake.layout import parse_key
from lakewatch.scoring.incidents import group, incident_finding
from lakewatch.scoring.pair_findings import WINDOW_MS, ScoredPair, make_finding
from lakewatch.scoring.storage import to_parquet
from lakewatch.threshold.published import PublishedThreshold

ACCOUNT, REGION = "123456789012", "us-east-1"  # the emulator's own account
LAKE_ACCOUNT = "111122223333"  # where the activity was seen: another account of the lake
SOURCE = parse_key(
    f"aws/VPC_FLOW/2.0/region=us-east-1/accountId={LAKE_ACCOUNT}/eventDay=20261130/p-1.parquet"
)
THRESHOLD = PublishedThreshold(threshold=-1.9, model_id="ipi-1", scale=1.0, target_fpr=0.001)
HOUR = 1_796_007_600_000  # 2026-11-30T03:00Z
REQUIRED = {
    "SchemaVersion",
    "Id",
    "ProductArn",
    "GeneratorId",
    "AwsAccountId",
    "Types",
    "CreatedAt",
    "UpdatedAt",
    "Severity",
    "Title",
    "Description",
    "Resources",
}


def _pair(n: int = 0, *, ip: str = "45.110.185.181", view: str = "egress_peer", at: int = HOUR):
    entity = f"i-{n:04x}" + ("/in" if view == "ingress_peer" else "")
    return ScoredPair(entity, ip, view, -6.0, True, 3, at + 60_000, at + 120_000)


def _finding(pair: ScoredPair, threshold=THRESHOLD, now_ms: int = HOUR + 600_000):
    return make_finding(
        pair, "anomalous_pair", threshold=threshold, source=SOURCE, bucket="lake", now_ms=now_ms
    )


@pytest.fixture(scope="module")
def hub(clients) -> Hub:
    sh = clients("securityhub")
    sh.enable_security_hub(EnableDefaultStandards=False)
    return Hub(sh, ACCOUNT, REGION)


def _stored(client, ids) -> dict[str, dict]:
    """The emulator's findings with these ids (it filters nothing itself: every page read)."""
    found, token = {}, None
    while True:
        page = client.get_findings(MaxResults=100, **({"NextToken": token} if token else {}))
        found.update({f["Id"]: f for f in page["Findings"] if f["Id"] in ids})
        token = page.get("NextToken")
        if not token:
            return found


class Recording:
    """The emulator's client, with each BatchImportFindings call's size recorded and the
    first answers replaced by ``faults`` (an exception to raise, or a function of the batch
    returning the response): Security Hub throttling or refusing findings."""

    def __init__(self, client, faults=()):
        self.client, self.faults, self.calls = client, list(faults), []

    def batch_import_findings(self, Findings):
        self.calls.append([f["Id"] for f in Findings])
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, Exception):
                raise fault
            return fault(Findings)
        return self.client.batch_import_findings(Findings=Findings)


def _error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "BatchImportFindings",
    )


def test_a_finding_is_asff_with_every_required_field_and_the_activitys_account():
    pair = _pair(1, view="ingress_peer", ip="2001:db8::7")
    asff = to_asff(_finding(pair), account_id=ACCOUNT, region=REGION)
    assert set(asff) >= REQUIRED
    assert asff["SchemaVersion"] == "2018-10-08"
    assert asff["ProductArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
    assert asff["AwsAccountId"] == ACCOUNT  # the importing account: the default product's rule
    assert asff["Resources"] == [
        {
            "Type": "AwsEc2Instance",
            "Id": f"arn:aws:ec2:us-east-1:{LAKE_ACCOUNT}:instance/i-0001",
            "Partition": "aws",
            "Region": "us-east-1",
        }
    ]
    assert asff["ProductFields"]["lakewatch/account"] == LAKE_ACCOUNT
    assert asff["ProductFields"]["lakewatch/model_id"] == "ipi-1"
    assert asff["Network"] == {"Direction": "IN", "SourceIpV6": "2001:db8::7"}
    assert asff["Severity"]["Label"] == "CRITICAL"
    assert asff["FindingProviderFields"]["Types"] == asff["Types"]
    assert [t.count("/") for t in asff["Types"]] == [2]  # namespace/category/classifier
    assert asff["CreatedAt"] == "2026-11-30T03:00:00.000Z"  # the hour the id names
    assert asff["FirstObservedAt"] == "2026-11-30T03:01:00.000Z"
    assert asff["UpdatedAt"] == "2026-11-30T03:10:00.000Z"  # when it was scored
    assert "RecordState" not in asff  # the scorer never un-archives an analyst's verdict


def test_an_incident_and_a_finding_read_back_from_parquet_map_alike():
    scan_pairs = [_pair(k, ip="198.51.100.7", view="ingress_peer") for k in range(4)]
    (scan,) = group(scan_pairs, 0.0)
    incident = incident_finding(
        scan, threshold=THRESHOLD, source=SOURCE, bucket="lake", now_ms=HOUR + 5
    )
    asff = to_asff(incident, account_id=ACCOUNT, region=REGION)
    assert asff["GeneratorId"] == "lakewatch/incident/scan"
    assert len(asff["Resources"]) == 4 and "Network" not in asff
    long = _finding(_pair(2))
    long["finding_info"]["title"] = "t" * 300
    long["finding_info"]["desc"] = "d" * 2000
    written = pq.read_table(io.BytesIO(to_parquet([incident, long]))).to_pylist()
    back = [to_asff(f, account_id=ACCOUNT, region=REGION) for f in written]
    assert back[0] == asff  # as the review desk reads it from the results bucket
    assert len(back[1]["Title"]) == 256 and len(back[1]["Description"]) == 1024


def test_import_is_idempotent_by_the_behaviour(hub):
    """A re-delivery, and the next night's model finding the same pair in the same hour,
    update the one Security Hub finding; another hour is another finding."""
    pair = _pair(3)
    first = _finding(pair)
    done = import_ocsf(hub, [first])
    assert (done.imported, done.failed) == (1, {})
    uid = first["finding_info"]["uid"]
    retrained = THRESHOLD.model_copy(update={"model_id": "ipi-2"})
    again = _finding(pair, retrained, now_ms=HOUR + 7_200_000)
    next_hour = _finding(_pair(3, at=HOUR + WINDOW_MS))
    assert again["finding_info"]["uid"] == uid != next_hour["finding_info"]["uid"]
    assert import_ocsf(hub, [again, next_hour]).imported == 2
    stored = _stored(hub.client, {uid, next_hour["finding_info"]["uid"]})
    assert len(stored) == 2
    assert stored[uid]["ProductFields"]["lakewatch/model_id"] == "ipi-2"
    assert stored[uid]["UpdatedAt"] == "2026-11-30T05:00:00.000Z"
    assert stored[uid]["CreatedAt"] == "2026-11-30T03:00:00.000Z"  # unchanged


def test_findings_go_in_batches_of_at_most_100_and_the_same_id_once(hub):
    findings = [_finding(_pair(100 + k)) for k in range(230)]
    findings.append(findings[0])  # two objects' pieces of one finding in one import
    recording = Recording(hub.client)
    done = import_ocsf(Hub(recording, ACCOUNT, REGION), findings)
    assert [len(c) for c in recording.calls] == [100, 100, 30]
    assert (done.imported, done.not_imported) == (230, 0)
    assert len(_stored(hub.client, {f["finding_info"]["uid"] for f in findings})) == 230


def test_throttling_and_failed_findings_are_retried_with_backoff_then_counted(hub):
    findings = [
        to_asff(_finding(_pair(400 + k)), account_id=ACCOUNT, region=REGION) for k in range(3)
    ]
    ids = [f["Id"] for f in findings]

    def refuse(codes):
        """Security Hub taking the batch but for these ids, answered in FailedFindings."""

        def answer(batch):
            taken = [f for f in batch if f["Id"] not in codes]
            response = hub.client.batch_import_findings(Findings=taken)
            response["FailedFindings"] = [
                {"Id": i, "ErrorCode": c, "ErrorMessage": c} for i, c in codes.items()
            ]
            return response

        return answer

    delays: list[float] = []
    recording = Recording(
        hub.client,
        [
            _error("LimitExceededException", 429),  # throttled: the whole call again
            EndpointConnectionError(endpoint_url="https://securityhub"),  # no connection
            refuse({ids[1]: "InternalException", ids[2]: "InvalidInput"}),
        ],
    )
    done = import_findings(recording, findings, max_attempts=4, sleep=delays.append)
    # the call retried twice, then only the finding whose failure may pass; never InvalidInput
    assert recording.calls == [ids, ids, ids, [ids[1]]]
    assert done.imported == 2 and set(done.failed) == {ids[2]}
    assert done.failed[ids[2]].startswith("InvalidInput")
    assert len(delays) == 3 and delays[0] < delays[2]  # exponential
    assert set(_stored(hub.client, set(ids))) == {ids[0], ids[1]}

    throttled = Recording(hub.client, [_error("LimitExceededException", 429)] * 10)
    done = import_findings(throttled, findings, max_attempts=3, sleep=lambda s: None)
    assert len(throttled.calls) == 3  # bounded
    assert done.imported == 0 and set(done.failed) == set(ids)
    assert done.first_error().startswith("LimitExceededException")


def test_a_disabled_or_forbidden_hub_is_counted_at_once_never_raised(hub):
    findings = [to_asff(_finding(_pair(500)), account_id=ACCOUNT, region=REGION)]
    for code, status in (("InvalidAccessException", 401), ("AccessDeniedException", 403)):
        recording = Recording(hub.client, [_error(code, status)])
        done = import_findings(recording, findings, sleep=lambda s: None)
        assert len(recording.calls) == 1 and done.not_imported == 1
        assert done.first_error().startswith(code)


def test_a_false_positive_is_archived_and_a_true_positive_active_again(hub):
    finding = _finding(_pair(600))
    uid = finding["finding_info"]["uid"]
    import_ocsf(hub, [finding])
    later = HOUR + 86_400_000
    assert record_verdict(hub, finding, "false_positive", now_ms=later).failed == {}
    stored = _stored(hub.client, {uid})[uid]
    assert stored["RecordState"] == "ARCHIVED"
    assert stored["UpdatedAt"] == securityhub.iso(later)  # later than the import's
    record_verdict(hub, finding, "true_positive", now_ms=later + 1)
    assert _stored(hub.client, {uid})[uid]["RecordState"] == "ACTIVE"
    with pytest.raises(KeyError):
        record_verdict(hub, finding, "maybe")


def test_hub_for_follows_the_setting(emulator_settings, clients):
    assert securityhub.hub_for(emulator_settings, clients) is None  # off by default
    on = emulator_settings.model_copy(update={"security_hub_findings": True})
    hub = securityhub.hub_for(on, clients)
    assert hub is not None and hub.product_arn.endswith(f":product/{on.account_id}/default")
