"""lake.principals: one string per principal in both source versions: AWS's own 3002 records
(1.0 Parquet, 1.1.0 JSON), the shapes the rule names, and the ones it names no one for."""

import json

import pyarrow.parquet as pq
import pytest

from lakewatch.lake.principals import normalise, principal, principal_arn

AUTH = "CLOUD_TRAIL/authentication"
EXPECTED_1_0 = {
    "AssumeRole": "arn:aws:iam::777788889999:user/JohnDoe",  # the IAM user who called
    "AssumeRoleWithSAML": "arn:aws:iam::444455556666:role/SAMLTestRoleShibboleth",
    "AssumeRoleWithWebIdentity": "arn:aws:iam::444455556666:role/FederatedWebIdentityRole",
    "CheckMfa": "arn:aws:iam::111122223333:user/anaya",  # no ARN: rebuilt from name and account
    "ConsoleLogin": "arn:aws:iam::111122223333:user/anaya",
    "ConsoleLogin-mfa": "arn:aws:iam::111122223333:user/anaya",
    "ConsoleLogin-mfa-failure": "arn:aws:iam::111122223333:user/anaya",
}


def test_aws_own_1_0_records(samples):
    from tests.conftest import SL_SAMPLES

    files = sorted((SL_SAMPLES / AUTH).glob("*.parquet"))
    assert len(files) == len(EXPECTED_1_0)
    for path in files:
        record = pq.read_table(path).to_pylist()[0]
        assert principal(record, "1.0") == EXPECTED_1_0[path.name.split(".")[0]], path.name


def test_aws_own_1_1_record_names_the_same_user(samples):
    path = samples / "ocsf__examples/mappings/markdown/AWS/v1.1.0/CloudTrail/Authentication"
    record = json.loads((path / "samples/authentication.ocsf").read_text())
    assert principal(record, "2.0") == "arn:aws:iam::111122223333:user/anaya"
    # the same field read as 1.0 would be the principal id, not an ARN: versions differ
    assert principal({"actor": {"user": {"uid": "AIDACKCEVSQ6C2EXAMPLE"}}}, "1.0") is None


@pytest.mark.parametrize(
    ("arn", "entity"),
    [
        (
            "arn:aws:sts::111122223333:assumed-role/ci-deploy/run-42",
            "arn:aws:iam::111122223333:role/ci-deploy",
        ),
        (
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b/Ana@Example.com",
            "sso:ana@example.com",
        ),
        ("arn:aws:iam::111122223333:user/staff/anaya", "arn:aws:iam::111122223333:user/anaya"),
        ("arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:root"),
        (
            "arn:aws:sts::111122223333:federated-user/bob",
            "arn:aws:sts::111122223333:federated-user/bob",
        ),
        (
            "arn:aws-us-gov:sts::111122223333:assumed-role/r/s",
            "arn:aws-us-gov:iam::111122223333:role/r",
        ),
        ("arn:aws:iam::111122223333:role/ci-deploy", None),
        ("ec2.amazonaws.com", None),
        (None, None),
    ],
)
def test_normalise(arn, entity):
    assert normalise(arn) == entity


def _federated(kind: str, role_arn: str, session: str, version: str) -> dict:
    target = {"uuid": role_arn} if version == "1.0" else {"uid": role_arn}
    return {"actor": {"user": {"type": kind, "name": "x"}}, "user": {**target, "name": session}}


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_federated_callers_are_the_session_they_obtain(version):
    sso = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Read_0a1b"
    record = _federated("SAMLUser", sso, "Ana@example.com", version)
    assert principal(record, version) == "sso:ana@example.com"
    ci = _federated(
        "WebIdentityUser", "arn:aws:iam::111122223333:role/ci", "GitHubActions", version
    )
    assert principal_arn(ci, version) == "arn:aws:sts::111122223333:assumed-role/ci/GitHubActions"
    assert principal(ci, version) == "arn:aws:iam::111122223333:role/ci"


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_callers_that_name_no_one(version):
    account = (
        {"account_uid": "111122223333"}
        if version == "1.0"
        else {"account": {"uid": "111122223333"}}
    )
    hidden = {
        "actor": {"user": {"type": "IAMUser", "name": "HIDDEN_DUE_TO_SECURITY_REASONS", **account}}
    }
    assert principal(hidden, version) is None
    service = {"actor": {"user": {"type": "AWSService"}, "invoked_by": "ec2.amazonaws.com"}}
    assert principal(service, version) is None
    root = {"actor": {"user": {"type": "Root", **account}}}
    assert principal(root, version) == "arn:aws:iam::111122223333:root"
    with pytest.raises(ValueError, match=r"1\.0 or 2\.0"):
        principal(root, "3.0")


def test_principal_mask_agrees_with_is_principal_on_lists_and_arrow():
    import pyarrow as pa

    from lakewatch.lake.principals import is_principal, principal_mask

    names = [
        "i-0abc",
        "arn:aws:iam::111122223333:user/ops",
        "sso:ana@example.com",
        "",
        "ssox",
        "arn:aws:iam::111122223333:role/ci",
    ]
    want = [is_principal(n) for n in names]
    assert principal_mask(names).tolist() == want == [False, True, True, False, False, True]
    assert principal_mask(pa.array(names)).tolist() == want
    assert principal_mask(pa.chunked_array([names[:2], names[2:]])).tolist() == want
    assert principal_mask(pa.array(["i-1", None])).tolist() == [False, False]
    # the scorer's entity column is dictionary-encoded (scoring.pairs.ENCODED)
    assert principal_mask(pa.array(names).dictionary_encode()).tolist() == want
    assert principal_mask(pa.array(["sso:a", None, "i-1"]).dictionary_encode()).tolist() == [
        True,
        False,
        False,
    ]
    assert principal_mask([]).size == 0
