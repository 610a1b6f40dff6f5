"""extract.signin and include/sql/views/signin.sql: AWS's own CloudTrail Authentication records
through the view, the principal named the same in both source versions, every actor shape and
bad record the SQL and its Python twin agree on, and the records that make no pair counted
with their reason while the export keeps writing (entity, ip) only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot

from lakewatch.extract.engine import DuckAthena, LakeLocation
from lakewatch.extract.export import DROP_REASONS, ExtractSummary, PairSet
from lakewatch.extract.signin import SignIn, sign_in, signin_schema
from lakewatch.extract.views import (
    DEFAULT_VIEWS,
    SIGNIN_VIEWS,
    STATUSES,
    QueryContext,
    View,
    render,
    sources_used,
)
from lakewatch.lake.layout import Source
from lakewatch.lake.sink import LocalStore

ACCOUNT = "111122223333"
DAY = datetime(2026, 11, 2, tzinfo=UTC)
T0 = int(DAY.timestamp() * 1000)
JSON_1_1 = "ocsf__examples/mappings/markdown/AWS/v1.1.0/CloudTrail/Authentication/samples"


def _ctx(version, start=DAY, end=None, views=SIGNIN_VIEWS, keep=("ok",)):
    end = end or datetime.fromtimestamp(start.timestamp() + 86400, UTC)
    return QueryContext(
        region="us-east-1", source_version=version, start=start, end=end, views=views, keep=keep
    )


def _place(root: Path, version: str, table: pa.Table, day: str, name: str) -> None:
    dest = (
        root / f"aws/CLOUD_TRAIL_MGMT/{version}/region=us-east-1/accountId={ACCOUNT}/"
        f"eventDay={day}/{name}.gz.parquet"
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, dest)


def _rows(root: Path, ctx: QueryContext) -> list[dict]:
    return (
        DuckAthena(LakeLocation.open(str(root)))
        .query(render("classified.sql", ctx), ctx)
        .to_pylist()
    )


def _as_sign_in(row: dict) -> SignIn:
    return SignIn(row["entity"], row["ip"], row["status"], row["outcome"], row["is_mfa"])


# --- AWS's own records ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def aws_auth(samples):
    """AWS's 1.0 Authentication samples (one record a file), by file name."""
    from tests.conftest import SL_SAMPLES

    files = sorted((SL_SAMPLES / "CLOUD_TRAIL" / "authentication").glob("*.parquet"))
    assert len(files) == 7
    return {f.name.removesuffix(".test.gz.parquet"): pq.read_table(f) for f in files}


@pytest.fixture(scope="module")
def aws_lake(aws_auth, tmp_path_factory):
    """The samples at the keys Security Lake would give them (eventDay from their time)."""
    root = tmp_path_factory.mktemp("ct-lake")
    for name, table in aws_auth.items():
        day = datetime.fromtimestamp(table["time"][0].as_py() / 1000, UTC).strftime("%Y%m%d")
        _place(root, "1.0", table, day, name)
    return root


AWS_EXPECTED = {
    # an IAM user's access key assuming a role: the user is the principal
    "AssumeRole": ("arn:aws:iam::777788889999:user/JohnDoe", "192.0.2.101", "Unknown", None),
    # federated callers have no AWS identity: the role session they obtain is the principal
    "AssumeRoleWithSAML": (
        "arn:aws:iam::444455556666:role/SAMLTestRoleShibboleth",
        "192.0.2.101",
        "Unknown",
        None,
    ),
    "AssumeRoleWithWebIdentity": (
        "arn:aws:iam::444455556666:role/FederatedWebIdentityRole",
        "192.0.2.101",
        "Unknown",
        None,
    ),
    # CheckMfa and the failed sign-in carry no ARN: rebuilt from the account and user name
    "CheckMfa": (f"arn:aws:iam::{ACCOUNT}:user/anaya", "192.0.2.0", "Unknown", None),
    "ConsoleLogin-mfa-failure": (
        f"arn:aws:iam::{ACCOUNT}:user/anaya",
        "192.0.2.0",
        "Failure",
        True,
    ),
    "ConsoleLogin-mfa": (f"arn:aws:iam::{ACCOUNT}:user/anaya", "192.0.2.0", "Success", True),
    "ConsoleLogin": (f"arn:aws:iam::{ACCOUNT}:user/anaya", "192.0.2.0", "Success", False),
}


def test_aws_authentication_samples_through_the_view(aws_auth, aws_lake):
    """Every AWS-produced 3002 sample is a kept pair with the principal, address, outcome and
    MFA expected, the same the Python twin gives each record."""
    ctx = _ctx("1.0", datetime(2014, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))
    rows = _rows(aws_lake, ctx)
    got = sorted(
        (r["entity"], r["ip"], r["outcome"], r["is_mfa"] is True, r["is_mfa"] is None)
        for r in rows
        if r["view"] == "signin" and r["status"] == "ok"
    )
    want = sorted((e, ip, o, m is True, m is None) for e, ip, o, m in AWS_EXPECTED.values())
    assert len(rows) == 7 and got == want
    twins = sorted((sign_in(t.to_pylist()[0], "1.0") for t in aws_auth.values()), key=repr)
    assert twins == sorted((_as_sign_in(r) for r in rows), key=repr)
    for name, (entity, ip, outcome, mfa) in AWS_EXPECTED.items():
        assert sign_in(aws_auth[name].to_pylist()[0], "1.0") == SignIn(
            entity, ip, "ok", outcome, mfa
        ), name
    # the export's pairs: (entity, ip) only, as for the network views
    extract = DuckAthena(LakeLocation.open(str(aws_lake))).query(render("extract.sql", ctx), ctx)
    assert extract.column_names == ["entity", "ip", "view", "split"]


def _json_1_1(samples) -> dict:
    record = json.loads((samples / JSON_1_1 / "authentication.ocsf").read_text())
    assert record["metadata"]["version"] == "1.1.0"
    return record


def test_both_versions_name_the_same_principal(samples, aws_auth, aws_lake, tmp_path):
    """The same ConsoleLogin (anaya, with MFA) in 1.0 (AWS's Parquet) and 1.1.0 (the OCSF
    mapping's JSON, written as a one-row 2.0 object): actor.user.uid is the principal id in
    one and the ARN in the other; the view names the same principal from both."""
    v1 = aws_auth["ConsoleLogin-mfa"].to_pylist()[0]
    v2 = _json_1_1(samples)
    assert v1["actor"]["user"]["uid"] == v2["actor"]["user"]["uid_alt"] == "AIDACKCEVSQ6C2EXAMPLE"
    assert v1["actor"]["user"]["uuid"] == v2["actor"]["user"]["uid"]
    assert "status_id" not in v2 and "mfa" not in v2 and v2["is_mfa"] is True

    v2 = dict(v2, time_dt=datetime.fromtimestamp(v2["time"] / 1000, UTC))
    _place(
        tmp_path, "2.0", pa.Table.from_pylist([v2], schema=signin_schema("2.0")), "20231110", "a"
    )
    ctx2 = _ctx("2.0", datetime(2023, 11, 10, tzinfo=UTC))
    [row2] = _rows(tmp_path, ctx2)
    ctx1 = _ctx("1.0", datetime(2022, 11, 10, tzinfo=UTC))
    row1 = next(r for r in _rows(aws_lake, ctx1) if r["outcome"] == "Success" and r["is_mfa"])
    anaya = f"arn:aws:iam::{ACCOUNT}:user/anaya"
    assert (
        _as_sign_in(row1) == _as_sign_in(row2) == SignIn(anaya, "192.0.2.0", "ok", "Success", True)
    )
    assert sign_in(v2, "2.0") == _as_sign_in(row2)
    # read as the other version, the records name nobody the same way: the version matters
    assert sign_in(v1, "2.0").status == sign_in(v2, "1.0").status == "unknown_version"


def _covered(mine: pa.Schema, theirs: pa.Schema) -> list[str]:
    """The fields of ``mine`` that ``theirs`` lacks or types otherwise (structs field by field)."""

    def missing(a: pa.DataType, b: pa.DataType, path: str) -> list[str]:
        if not pa.types.is_struct(a):
            return [] if a == b else [f"{path}: {a} vs {b}"]
        if not pa.types.is_struct(b):
            return [f"{path}: struct vs {b}"]
        out = []
        for f in a:
            if b.get_field_index(f.name) < 0:
                out.append(f"{path}.{f.name}: absent")
            else:
                out += missing(f.type, b.field(f.name).type, f"{path}.{f.name}")
        return out

    return [
        m
        for f in mine
        for m in (
            missing(f.type, theirs.field(f.name).type, f.name)
            if f.name in theirs.names
            else [f"{f.name}: absent"]
        )
    ]


def test_the_1_0_columns_the_view_reads_are_in_awss_files(aws_auth):
    assert _covered(signin_schema("1.0"), aws_auth["ConsoleLogin"].schema) == []


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_the_columns_the_view_reads_are_in_the_lakes_cloudtrail_table(version):
    """What the synthetic lake writes (and an empty day's table is) holds every column the
    view reads, typed the same."""
    from lakewatch.lake.schemas import schema_for

    assert _covered(signin_schema(version), schema_for(Source.CLOUD_TRAIL_MGMT, version)) == []


# --- every shape, in both versions: the SQL and its twin agree -------------------------------

SSO_ROLE = "AWSReservedSSO_PowerUser_0123abcd4567ef89"
ANA = "sso:ana.silva@example.com"


def _case(
    kind="IAMUser",
    arn=None,
    name=None,
    account=ACCOUNT,
    target=None,
    session=None,
    ip="198.51.100.7",
    domain=None,
    status="Success",
    status_id=None,
    mfa=None,
    ocsf=None,
    class_uid=3002,
):
    return locals()


# (description, case, expected entity, expected status)
CASES = [
    (
        "IAM user, path dropped",
        _case(arn=f"arn:aws:iam::{ACCOUNT}:user/staff/anaya"),
        f"arn:aws:iam::{ACCOUNT}:user/anaya",
        "ok",
    ),
    (
        "failed console sign-in: no ARN, rebuilt",
        _case(name="anaya", status="Failure", mfa=False),
        f"arn:aws:iam::{ACCOUNT}:user/anaya",
        "ok",
    ),
    (
        "role session collapses to its role",
        _case(kind="AssumedRole", arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deploy/run-42"),
        f"arn:aws:iam::{ACCOUNT}:role/ci-deploy",
        "ok",
    ),
    (
        "another session of the role",
        _case(kind="AssumedRole", arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deploy/run-43"),
        f"arn:aws:iam::{ACCOUNT}:role/ci-deploy",
        "ok",
    ),
    (
        "SSO person",
        _case(
            kind="AssumedRole",
            arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/{SSO_ROLE}/Ana.Silva@Example.com",
            mfa=True,
        ),
        ANA,
        "ok",
    ),
    (
        "the same person, another account and permission set",
        _case(
            kind="AssumedRole",
            arn="arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_ReadOnly_9f8e/ana.silva@example.com",
        ),
        ANA,
        "ok",
    ),
    (
        "SAML into an Identity Center role",
        _case(
            kind="SAMLUser",
            target=f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/{SSO_ROLE}",
            session="ana.silva@example.com",
        ),
        ANA,
        "ok",
    ),
    (
        "web identity (CI) into a role with a path",
        _case(
            kind="WebIdentityUser",
            target=f"arn:aws:iam::{ACCOUNT}:role/ci/gha-deploy",
            session="gha-1234",
        ),
        f"arn:aws:iam::{ACCOUNT}:role/gha-deploy",
        "ok",
    ),
    (
        "root",
        _case(kind="Root", arn=f"arn:aws:iam::{ACCOUNT}:root", status_id=1),
        f"arn:aws:iam::{ACCOUNT}:root",
        "ok",
    ),
    (
        "root without an ARN",
        _case(kind="Root", status="failed"),
        f"arn:aws:iam::{ACCOUNT}:root",
        "ok",
    ),
    (
        "federated user kept",
        _case(kind="FederatedUser", arn=f"arn:aws:sts::{ACCOUNT}:federated-user/bob"),
        f"arn:aws:sts::{ACCOUNT}:federated-user/bob",
        "ok",
    ),
    (
        "GovCloud partition",
        _case(kind="AssumedRole", arn=f"arn:aws-us-gov:sts::{ACCOUNT}:assumed-role/ops/x"),
        f"arn:aws-us-gov:iam::{ACCOUNT}:role/ops",
        "ok",
    ),
    (
        "IPv6 address",
        _case(arn=f"arn:aws:iam::{ACCOUNT}:user/anaya", ip="2001:db8::7"),
        f"arn:aws:iam::{ACCOUNT}:user/anaya",
        "ipv6",
    ),
    (
        "malformed address",
        _case(arn=f"arn:aws:iam::{ACCOUNT}:user/anaya", ip="300.1.2.3"),
        f"arn:aws:iam::{ACCOUNT}:user/anaya",
        "malformed",
    ),
    # the bad input: counted and skipped, each with its reason
    (
        "no address at all",
        _case(arn=f"arn:aws:iam::{ACCOUNT}:user/anaya", ip=None),
        f"arn:aws:iam::{ACCOUNT}:user/anaya",
        "no_address",
    ),
    (
        "an AWS service calling: its name, no IP",
        _case(kind="AWSService", ip=None, domain="ec2.amazonaws.com"),
        None,
        "service",
    ),
    (
        "a service name where the IP goes",
        _case(arn=f"arn:aws:iam::{ACCOUNT}:user/anaya", ip="AWS Internal"),
        f"arn:aws:iam::{ACCOUNT}:user/anaya",
        "service",
    ),
    (
        "unknown actor shape: a cross-account principal id",
        _case(kind="AWSAccount"),
        None,
        "unknown_actor",
    ),
    (
        "unknown actor shape: a role ARN as the actor",
        _case(kind="AssumedRole", arn=f"arn:aws:iam::{ACCOUNT}:role/x"),
        None,
        "unknown_actor",
    ),
    (
        "unknown actor shape: the user name CloudTrail hides",
        _case(name="HIDDEN_DUE_TO_SECURITY_REASONS", status="Failure"),
        None,
        "unknown_actor",
    ),
    (
        "unknown actor shape: SAML without a session name",
        _case(kind="SAMLUser", target=f"arn:aws:iam::{ACCOUNT}:role/saml-admins"),
        None,
        "unknown_actor",
    ),
    (
        "a version the reader does not know",
        _case(arn=f"arn:aws:iam::{ACCOUNT}:user/anaya", ocsf="1.3.0"),
        f"arn:aws:iam::{ACCOUNT}:user/anaya",
        "unknown_version",
    ),
]
NOT_READ = _case(arn=f"arn:aws:iam::{ACCOUNT}:user/anaya", class_uid=6003)  # API Activity


def _record(version: str, case: dict, n: int) -> dict:
    """The case as the version's record (1.0: the ARN in actor.user.uuid; 2.0 in uid)."""
    v1 = version == "1.0"
    actor_user = {"type": case["kind"], "name": case["name"], "credential_uid": None}
    if v1:
        actor_user |= {"uid": "AIDAEXAMPLE", "uuid": case["arn"], "account_uid": case["account"]}
    else:
        actor_user |= {
            "uid": case["arn"],
            "uid_alt": "AIDAEXAMPLE",
            "account": {"uid": case["account"]},
        }
    target = {"uuid" if v1 else "uid": case["target"], "name": case["session"]}
    record = {
        "metadata": {"version": case["ocsf"] or ("1.0.0-rc.2" if v1 else "1.1.0")},
        "time": T0 + n * 1000,
        "class_uid": case["class_uid"],
        "actor": {"user": actor_user},
        "user": target,
        "src_endpoint": {"uid": None, "ip": case["ip"], "domain": case["domain"]},
        "status": case["status"],
        "status_id": case["status_id"],
        "mfa" if v1 else "is_mfa": case["mfa"],
    }
    if not v1:
        record["time_dt"] = datetime.fromtimestamp(record["time"] / 1000, UTC)
    return record


@pytest.fixture(scope="module", params=["1.0", "2.0"])
def case_lake(request, tmp_path_factory):
    version = request.param
    root = tmp_path_factory.mktemp(f"cases{version}")
    records = [_record(version, case, n) for n, (_, case, _, _) in enumerate(CASES)]
    records.append(_record(version, NOT_READ, len(CASES)))
    _place(
        root, version, pa.Table.from_pylist(records, schema=signin_schema(version)), "20261102", "c"
    )
    return version, root, records


def test_every_shape_in_both_versions_sql_and_twin_agree(case_lake):
    version, root, records = case_lake
    rows = {r["event_time"]: r for r in _rows(root, _ctx(version, keep=STATUSES))}
    assert len(rows) == len(CASES)  # the API Activity record is not a sign-in
    for n, (what, case, entity, status) in enumerate(CASES):
        row = rows[T0 + n * 1000]
        assert (row["entity"], row["status"]) == (entity, status), what
        assert _as_sign_in(row) == sign_in(records[n], version), what
        assert row["is_mfa"] == case["mfa"], what
    assert rows[T0 + 1000]["outcome"] == "Failure"  # by status
    assert rows[T0 + 8000]["outcome"] == "Success"  # by status_id
    assert rows[T0 + 9000]["outcome"] == "Failure"  # 'failed', as some sources write it


def test_bad_records_are_counted_and_skipped_with_their_reason(case_lake, tmp_path):
    """The day's extract of the sign-in view: each record that makes no pair is counted under
    its reason, never a failed day, and the CSVs hold the kept pairs' entity and ip only."""
    version, root, _ = case_lake
    pair_set = PairSet(SIGNIN_VIEWS)
    ctx = _ctx(version, views=pair_set.views, keep=pair_set.keep)
    summary = ExtractSummary(day="2026-11-02", pair_set=pair_set.key, source_version=version)
    out = LocalStore(tmp_path)
    DuckAthena(LakeLocation.open(str(root))).extract(ctx, out, "x/", "a", summary)
    statuses = {}
    for _, _, _, status in CASES:
        statuses[status] = statuses.get(status, 0) + 1
    assert summary.by_view == {"signin": statuses}
    assert summary.dropped == {DROP_REASONS[s]: n for s, n in statuses.items() if s != "ok"}
    assert summary.dropped[DROP_REASONS["unknown_actor"]] == 4
    assert {DROP_REASONS[s] for s in ("no_address", "service", "unknown_version")} <= set(
        summary.dropped
    )
    assert summary.rows == statuses["ok"]
    lines = [line for key in out.list("x/") for line in out.get(key).decode().splitlines() if line]
    assert len(lines) == statuses["ok"]
    assert all(len(line.split(",")) == 2 for line in lines)
    assert {line.split(",")[0] for line in lines} >= {ANA, f"arn:aws:iam::{ACCOUNT}:role/ci-deploy"}


# --- the synthetic lake's CloudTrail ---------------------------------------------------------


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_the_synthetic_lakes_injected_sign_ins_are_extracted(version, tmp_path):
    """Every injected sign-in anomaly's (principal, address) is a kept pair of the view, its
    principal named by the same rule as the lake's ground truth; every entity is one of the
    rule's shapes."""
    import re
    from datetime import date

    from lakewatch.lake.synthetic import GenerateOptions
    from lakewatch.lake.write import read_labels, write_lake

    options = GenerateOptions(
        days=2,
        start=date(2026, 11, 1),
        rows_per_day=8000,
        seed=3,
        source_version=version,
        cloudtrail=True,
    )
    write_lake(options, LocalStore(tmp_path))
    ctx = _ctx(version)
    rows = DuckAthena(LakeLocation.open(str(tmp_path))).query(render("extract.sql", ctx), ctx)
    pairs = set(zip(rows["entity"].to_pylist(), rows["ip"].to_pylist(), strict=True))
    labels = [
        lb for lb in read_labels(LocalStore(tmp_path), day="20261102") if lb["view"] == "signin"
    ]
    assert labels
    assert [lb for lb in labels if (lb["entity"], lb["ip"]) not in pairs] == []
    shapes = re.compile(
        r"sso:[^/:]+|arn:aws[a-z-]*:(iam::\d{12}:(user/[^/]+|role/[^/]+|root)|sts::\d{12}:federated-user/[^/]+)"
    )
    assert all(shapes.fullmatch(e) for e, _ in pairs)


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_an_hourly_job_is_trained_on_not_only_held_out(version, tmp_path):
    """The reporting user's access key assumes its role at the same second of every hour (a
    multiple of 10): split by the second alone, every one of its sign-ins was held out and the
    model never knew it (its every sign-in then an ``unknown_entity`` finding)."""
    from datetime import date

    from lakewatch.lake.synthetic import GenerateOptions
    from lakewatch.lake.write import write_lake

    options = GenerateOptions(
        days=2,
        start=date(2026, 11, 1),
        rows_per_day=8000,
        seed=3,
        source_version=version,
        cloudtrail=True,
    )
    write_lake(options, LocalStore(tmp_path))
    ctx = _ctx(version)
    rows = DuckAthena(LakeLocation.open(str(tmp_path))).query(render("extract.sql", ctx), ctx)
    splits = [
        split
        for entity, split in zip(rows["entity"].to_pylist(), rows["split"].to_pylist(), strict=True)
        if entity.endswith(":user/reporting")
    ]
    assert len(splits) >= 20  # hourly, in each account
    assert 0 < splits.count("validation") < len(splits) / 4, splits


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_a_records_split_does_not_move_with_the_date(version, tmp_path):
    """The same lake written relative to another day (``origin``: only its dates move) is split
    the same: with the hours since 1970 in the key, every sign-in's split moved by 7 x 24 mod
    10 a day, so the demo trained and thresholded on other pairs each day it ran."""
    from datetime import date

    from lakewatch.lake.synthetic import GenerateOptions
    from lakewatch.lake.write import write_lake

    def splits(start: date) -> list[tuple[str, str, str]]:
        root = tmp_path / f"{start}"
        options = GenerateOptions(
            days=2,
            start=start,
            origin=start,
            rows_per_day=8000,
            seed=3,
            source_version=version,
            cloudtrail=True,
        )
        write_lake(options, LocalStore(root))
        begin = datetime(start.year, start.month, start.day, tzinfo=UTC)
        ctx = _ctx(version, begin, begin + timedelta(days=2))
        rows = DuckAthena(LakeLocation.open(str(root))).query(render("extract.sql", ctx), ctx)
        return sorted(
            (e, ip, split)
            for e, ip, split, view in zip(
                rows["entity"].to_pylist(),
                rows["ip"].to_pylist(),
                rows["split"].to_pylist(),
                rows["view"].to_pylist(),
                strict=True,
            )
            if view == "signin"
        )

    first = splits(date(2026, 11, 1))
    assert first and {s for _, _, s in first} == {"train", "validation"}
    assert splits(date(2026, 11, 2)) == first


# --- how the view sits beside the network views ----------------------------------------------


def test_signin_is_its_own_pair_set_reading_cloudtrail():
    assert View.SIGNIN == "signin" and View.SIGNIN not in DEFAULT_VIEWS
    assert PairSet(SIGNIN_VIEWS).key == "signin"
    assert sources_used(SIGNIN_VIEWS) == {Source.CLOUD_TRAIL_MGMT}
    assert sources_used((*DEFAULT_VIEWS, View.SIGNIN)) == {
        Source.VPC_FLOW,
        Source.ROUTE53,
        Source.CLOUD_TRAIL_MGMT,
    }


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_rendered_for_athena_and_duckdb(version):
    ctx = _ctx(version, views=(*DEFAULT_VIEWS, View.SIGNIN))
    sql = render("classified.sql", ctx)
    table = f"amazon_security_lake_table_us_east_1_cloud_trail_mgmt_{version.replace('.', '_')}"
    assert f'"amazon_security_lake_glue_db_us_east_1"."{table}"' in sql
    # the version's own fields: the actor's ARN, its account and the MFA flag
    if version == "1.0":
        assert "actor.user.uuid" in sql and "actor.user.account_uid" in sql
        assert "mfa AS is_mfa" in sql and "eventday BETWEEN" in sql
    else:
        assert "actor.user.uuid" not in sql and "actor.user.account.uid" in sql
        assert "is_mfa AS is_mfa" in sql and "time_dt >=" in sql
    sqlglot.parse_one(sql, read="trino")  # Athena's dialect parses it
    from lakewatch.extract.engine import translate

    duck = translate(sql, {f"amazon_security_lake_glue_db_us_east_1.{table}": "ct"})
    assert " ct" in duck and "REGEXP_MATCHES" in duck


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_a_lake_without_cloudtrail_gives_no_sign_ins_beside_the_network_pairs(version, tmp_path):
    """No CloudTrail objects: the view reads an empty table, and the network views' pairs come
    as before, their outcome and MFA empty."""
    from datetime import date

    from lakewatch.lake.synthetic import GenerateOptions
    from lakewatch.lake.write import write_lake

    write_lake(
        GenerateOptions(days=1, start=date(2026, 11, 2), rows_per_day=2000, source_version=version),
        LocalStore(tmp_path),
    )
    ctx = _ctx(version, views=(View.EGRESS_PEER, View.SIGNIN))
    rows = _rows(tmp_path, ctx)
    assert rows and {r["view"] for r in rows} == {"egress_peer"}
    assert {(r["outcome"], r["is_mfa"]) for r in rows} == {(None, None)}
    counts = DuckAthena(LakeLocation.open(str(tmp_path))).query(render("counts.sql", ctx), ctx)
    assert set(counts["view"].to_pylist()) == {"egress_peer"}


def test_an_unknown_source_version_is_refused():
    with pytest.raises(ValueError, match="source version"):
        sign_in({}, "3.0")
    with pytest.raises(ValueError, match="source version"):
        signin_schema("3.0")
