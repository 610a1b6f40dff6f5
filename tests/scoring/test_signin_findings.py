"""scoring.signin_findings: "Sign-in from an unusual address" findings that validate as OCSF 2004,
name the principal, the address, MFA, the outcome and the usual networks; a sign-in without
MFA ranks above one with it; the step-up event carries what a step-up function needs."""

import json

import numpy as np
import pyarrow as pa

from lakewatch.lake.layout import parse_key
from lakewatch.lake.validate import validate_record
from lakewatch.review.rows import rank, row_of
from lakewatch.scoring.pair_findings import ScoredPair
from lakewatch.scoring.signin_findings import (
    TITLE,
    PrincipalHistory,
    SignInPair,
    is_unusual_signin,
    signin_finding,
    signin_findings,
    step_up_entry,
)
from lakewatch.scoring.storage import to_parquet
from lakewatch.threshold.published import PublishedThreshold

THRESHOLD = PublishedThreshold(
    threshold=0.0, model_id="ipi-1", target_fpr=0.01, scale=1.0, day="2026-11-01"
)
SOURCE = parse_key(
    "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=123456789012/eventDay=20261101/"
    "abc.gz.parquet"
)
PERSON = "sso:alice.doe"
FIRST = 1_793_491_200_000


def _sp(score=-0.8, known=True, mfa_used=0, mfa_not_used=0, history=None, entity=PERSON):
    pair = ScoredPair(entity, "45.1.2.3", "signin", score, known, 3, FIRST, FIRST + 1000)
    return SignInPair(pair, mfa_used, mfa_not_used, 3, 0, history)


def _finding(sp, kind="anomalous_pair"):
    return signin_finding(
        sp, kind, threshold=THRESHOLD, source=SOURCE, bucket="lake", now_ms=FIRST + 5000
    )


def test_a_signin_finding_is_valid_ocsf_and_names_principal_address_mfa_and_networks():
    history = PrincipalHistory(pairs=40, in_24=0, in_16=2)
    f = _finding(_sp(mfa_not_used=1, mfa_used=2, history=history))
    assert validate_record(f, "1.1.0") == [], f
    assert f["class_uid"] == 2004 and f["finding_info"]["title"].startswith(TITLE)
    assert f["resources"][0] == {
        "uid": PERSON,
        "type": "AWS::SSO::User",
        "cloud_partition": "aws",
        "region": "us-east-1",
    }
    evidence = f["evidences"][0]
    assert evidence["actor"] == {
        "user": {"uid": PERSON, "name": "alice.doe"},
        "session": {"is_mfa": False},  # any sign-in without MFA: the pair is without
    }
    assert evidence["src_endpoint"] == {"ip": "45.1.2.3"}
    u = f["unmapped"]
    assert u["lakewatch.view"] == "signin" and u["lakewatch.principal"] == PERSON
    assert (u["lakewatch.address"], u["lakewatch.mfa"], u["lakewatch.outcome"]) == (
        "45.1.2.3",
        "false",
        "Success",
    )
    assert (
        "0 of the principal's 40 training pair(s) from 45.1.2.0/24" in u["lakewatch.usual_networks"]
    )
    assert "2 from 45.1.0.0/16" in u["lakewatch.usual_networks"]
    assert "MFA: false" in f["finding_info"]["desc"]
    # stored and read back (the evidences' actor is in the findings' schema)
    import io

    import pyarrow.parquet as pq

    [stored] = pq.read_table(io.BytesIO(to_parquet([f]))).to_pylist()
    assert stored["evidences"][0]["actor"]["user"]["uid"] == PERSON
    assert stored["evidences"][0]["actor"]["session"]["is_mfa"] is False
    assert validate_record(stored, "1.1.0") == []


def test_a_signin_without_mfa_ranks_above_one_with_it():
    with_mfa = _finding(_sp(mfa_used=3))
    without = _finding(_sp(mfa_not_used=1))
    unknown = _finding(_sp())  # CloudTrail said nothing: not shown to use MFA
    assert without["severity_id"] == with_mfa["severity_id"] + 1
    assert unknown["severity_id"] == without["severity_id"]
    assert with_mfa["unmapped"]["lakewatch.mfa"] == "true"
    assert unknown["unmapped"]["lakewatch.mfa"] == "unknown"
    assert "session" not in unknown["evidences"][0]["actor"]
    # never past Critical
    assert _finding(_sp(score=-50.0, mfa_not_used=1))["severity_id"] == 5
    # the review lists the one without MFA first (same score)
    with_mfa["finding_info"]["uid"] = "a-with"
    without["finding_info"]["uid"] = "b-without"
    ranked = rank([row_of(with_mfa, "2026-11-01"), row_of(without, "2026-11-01")])
    assert [r.uid for r in ranked] == ["b-without", "a-with"]


def test_an_unknown_principal_is_informational_and_no_step_up():
    f = _finding(_sp(known=False, mfa_not_used=1), kind="unknown_entity")
    assert validate_record(f, "1.1.0") == []
    assert f["severity_id"] == 1 and f["unmapped"]["lakewatch.kind"] == "unknown_entity"
    assert not is_unusual_signin(f)
    assert is_unusual_signin(_finding(_sp()))


def test_signin_findings_only_for_pairs_under_the_threshold_or_unknown():
    table = pa.table(
        {
            "entity": [PERSON, PERSON, "arn:aws:iam::123456789012:role/ci", "sso:new.person"],
            "ip": ["45.1.2.3", "10.0.0.1", "20.1.1.1", "30.1.1.1"],
            "view": ["signin"] * 4,
            "status": ["ok"] * 4,
            "event_time_count": [2, 5, 1, 1],
            "event_time_min": [FIRST] * 4,
            "event_time_max": [FIRST + 10] * 4,
            "mfa_used": [0, 5, 0, 0],
            "mfa_not_used": [2, 0, 0, 0],
            "succeeded": [1, 5, 1, 0],
            "failed": [1, 0, 0, 1],
            "score": [-1.0, 2.0, float("nan"), 0.5],
            "known_entity": [True, True, True, False],
        }
    )
    asked = []

    def history(entities, ips):
        asked.append(list(zip(entities, ips, strict=True)))
        return [PrincipalHistory(10, 0, 0) for _ in entities]

    findings = signin_findings(
        table, threshold=THRESHOLD, source=SOURCE, bucket="lake", now_ms=1, history=history
    )
    kinds = [
        (f["unmapped"]["lakewatch.principal"], f["unmapped"]["lakewatch.kind"]) for f in findings
    ]
    assert kinds == [(PERSON, "anomalous_pair"), ("sso:new.person", "unknown_entity")]
    assert asked == [[(PERSON, "45.1.2.3")]]  # the history asked of the known principals only
    assert findings[0]["unmapped"]["lakewatch.outcome"] == "Success and Failure"
    assert findings[1]["unmapped"]["lakewatch.outcome"] == "Failure"


def test_the_step_up_event_carries_principal_address_score_threshold_mfa_and_uid():
    f = _finding(_sp(score=-0.75, mfa_not_used=1))
    entry = step_up_entry(f, "lakewatch-step-up")
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "lakewatch",
        "Unusual sign-in",
        "lakewatch-step-up",
    )
    detail = json.loads(entry["Detail"])
    assert detail["principal"] == PERSON and detail["address"] == "45.1.2.3"
    assert detail["score"] == -0.75 and detail["threshold"] == 0.0
    assert detail["mfa"] is False and detail["finding_uid"] == f["finding_info"]["uid"]
    assert detail["account"] == "123456789012" and np.isfinite(detail["first_seen_time"])


def test_the_detectors_history_says_how_often_the_principal_used_the_prefixes():
    """``detector_history`` reads the principal's training pairs per prefix from the history's
    hashed counts: the totals and those in the address's /24 and /16 (not which prefixes)."""
    from types import SimpleNamespace

    from lakewatch.model.data import pairs_from_lists
    from lakewatch.model.encoding import entity_hashes
    from lakewatch.model.history import History
    from lakewatch.scoring.signin_findings import detector_history

    ents = [PERSON] * 10 + ["sso:bob"] * 4
    ips = [f"81.2.{i % 2}.{i + 1}" for i in range(10)] + ["90.1.1.1"] * 4
    pairs = pairs_from_lists(ents, ips)
    found = SimpleNamespace(history=History.build(entity_hashes(ents), pairs.addrs))
    look = detector_history(found)  # a stand-in with just the history
    got = look([PERSON, PERSON, "sso:bob"], ["81.2.0.200", "203.0.113.9", "81.2.0.1"])
    assert got[0] == PrincipalHistory(pairs=10, in_24=5, in_16=10)
    assert got[1] == PrincipalHistory(pairs=10, in_24=0, in_16=0)
    assert got[2] == PrincipalHistory(pairs=4, in_24=0, in_16=0)
