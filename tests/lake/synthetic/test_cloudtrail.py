"""lake.synthetic.cloudtrail (+ identities, cloudtrail_ocsf): CloudTrail management objects in
both source versions, valid OCSF, with AWS's field shapes and its version difference in who
the actor is; a population that signs in from its usual networks; sign-in anomalies labelled
with the principal the signin view names; and the network objects untouched."""

import hashlib
import ipaddress
import json
from collections import Counter, defaultdict
from dataclasses import asdict
from datetime import date, timedelta

import pytest

from lakewatch.lake.layout import OCSF_VERSION, Source, parse_key
from lakewatch.lake.principals import principal
from lakewatch.lake.schemas import schema_for
from lakewatch.lake.synthetic import SIGNIN_KINDS, GenerateOptions, LakeGenerator
from lakewatch.lake.synthetic.identities import GITHUB_RANGES
from lakewatch.lake.synthetic.world import HOSTILE_RANGES
from lakewatch.lake.validate import validate_table
from lakewatch.lake.write import parquet_bytes

START = date(2026, 11, 2)  # a Monday
AUTH_OPERATIONS = {
    "ConsoleLogin",
    "CheckMfa",
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
}
API_CLASS = {"1.0": 3005, "2.0": 6003}
HOSTILE = [ipaddress.ip_network(c) for c in HOSTILE_RANGES]


def _options(version="2.0", **kw):
    base = dict(
        days=3,
        start=START,
        seed=5,
        rows_per_day=20_000,
        accounts=2,
        instances_per_account=10,
        source_version=version,
        cloudtrail=True,
    )
    return GenerateOptions(**(base | kw))


@pytest.fixture(scope="module", params=["1.0", "2.0"])
def lake(request):
    gen = LakeGenerator(_options(request.param))
    objs = list(gen.objects())
    ct = [o for o in objs if o.source is Source.CLOUD_TRAIL_MGMT]
    rows = [(o, row, r) for o in ct for row, r in enumerate(o.table.to_pylist())]
    return request.param, gen, objs, ct, rows


def test_keys_schemas_and_ocsf(lake):
    version, _, _, ct, _ = lake
    assert len(ct) == 3 * 2 * 2  # days x accounts x slices
    for o in ct:
        key = parse_key(o.key)
        assert key and key.source == "CLOUD_TRAIL_MGMT" and key.version == version
        assert o.key.startswith(f"aws/CLOUD_TRAIL_MGMT/{version}/region=us-east-1/accountId=")
        assert key.event_day == f"{o.day:%Y%m%d}" and o.key.endswith(".gz.parquet")
        assert o.table.schema.equals(schema_for(Source.CLOUD_TRAIL_MGMT, version))
        times = o.table["time"].to_numpy()
        assert (times[1:] >= times[:-1]).all() and (times % 1000 == 0).all()
        assert validate_table(o.table, OCSF_VERSION[version]) == []


def test_classes_and_operations_as_the_samples_show(lake):
    version, _, _, _, rows = lake
    classes = Counter(r["class_uid"] for _, _, r in rows)
    assert set(classes) == {3002, API_CLASS[version], 3001}
    assert classes[API_CLASS[version]] > classes[3002] > classes[3001]
    auth = [r for _, _, r in rows if r["class_uid"] == 3002]
    assert {r["api"]["operation"] for r in auth} == AUTH_OPERATIONS
    mfa = "is_mfa" if version == "2.0" else "mfa"
    logins = [r for r in auth if r["api"]["operation"] == "ConsoleLogin"]
    assert {r[mfa] for r in logins} == {True, False}
    assert {r["status"] for r in logins} == {"Success", "Failure"}
    assert all(r["type_uid"] == r["class_uid"] * 100 + r["activity_id"] for _, _, r in rows)
    for r in logins:
        assert r["dst_endpoint"]["svc_name"].startswith("https://console.aws.amazon.com/")
        assert r["api"]["service"]["name"] == "signin.amazonaws.com"
    if version == "1.0":  # AWS's 1.0 files: role assumptions' status is Other
        assume = [r for r in auth if r["api"]["operation"].startswith("AssumeRole")]
        assert {(r["status"], r["status_id"]) for r in assume} == {("Other", 0)}
        assert all(dict(r["unmapped"]).get("eventType") for _, _, r in rows)
    else:
        assert {r["metadata"]["event_code"] for _, _, r in rows} >= {
            "AwsConsoleSignIn",
            "AwsApiCall",
        }
        assert all(r["accountid"] == parse_key(o.key).account_id for o, _, r in rows)


def test_who_the_actor_is_differs_by_version(lake):
    version, _, _, _, rows = lake
    users = [r["actor"]["user"] for _, _, r in rows if r["actor"]["user"]["type"] == "IAMUser"]
    with_arn = [u for u in users if (u["uuid"] if version == "1.0" else u["uid"])]
    assert with_arn
    for u in with_arn:
        arn, principal_id = (u["uuid"], u["uid"]) if version == "1.0" else (u["uid"], u["uid_alt"])
        assert arn.startswith("arn:aws:iam::") and principal_id.startswith("AIDA")
        account = u["account_uid"] if version == "1.0" else u["account"]["uid"]
        assert arn.split(":")[4] == account


def test_aws_services_call_without_an_address(lake):
    _, _, _, _, rows = lake
    service = [r for _, _, r in rows if r["actor"]["invoked_by"]]
    assert {r["actor"]["invoked_by"] for r in service} >= {
        "ec2.amazonaws.com",
        "config.amazonaws.com",
    }
    for r in service:
        assert r["src_endpoint"]["ip"] is None
        assert r["src_endpoint"]["domain"] == r["actor"]["invoked_by"]


def test_the_population_acts_from_its_usual_networks(lake):
    version, gen, _, _, rows = lake
    usual = {p["principal"]: p for p in gen.identities.usual_networks()}
    injected = {(o.key, label.row) for o, _, _ in rows[:1] for o in lake[3] for label in o.labels}
    kinds = Counter()
    for o, row, r in rows:
        if r["class_uid"] != 3002 or not r["src_endpoint"]["ip"] or (o.key, row) in injected:
            continue
        who = principal(r, version)
        if who is None:
            continue
        entry = usual[who]
        kinds[entry["kind"]] += 1
        address = ipaddress.ip_address(r["src_endpoint"]["ip"])
        assert any(address in ipaddress.ip_network(n) for n in entry["networks"]), (who, address)
    assert kinds["person"] and kinds["iam_user"] and kinds["ci_role"]
    for entry in usual.values():
        if entry["kind"] == "ci_role":
            assert entry["networks"] == list(GITHUB_RANGES)
    # instances call with their own roles from inside the VPC, as the day's instance ids
    inside = [r for _, _, r in rows if r["src_endpoint"]["uid"]]
    assert inside and all(ipaddress.ip_address(r["src_endpoint"]["ip"]).is_private for r in inside)


def test_labels_name_the_principal_the_signin_view_names(lake):
    version, _, _, ct, _ = lake
    kinds_by_day = defaultdict(set)
    labelled = 0
    for o in ct:
        table = o.table.to_pylist()
        rows = {label.row for label in o.labels}
        for label in o.labels:
            r = table[label.row]
            assert principal(r, version) == label.entity, (label, r)
            assert r["src_endpoint"]["ip"] == label.ip
            assert label.view == "signin" and label.source == "CLOUD_TRAIL_MGMT"
            kinds_by_day[o.day].add(label.kind)
            labelled += 1
        for row, r in enumerate(table):  # hostile addresses only in the injected rows
            ip = r["src_endpoint"]["ip"]
            if ip and any(ipaddress.ip_address(ip) in n for n in HOSTILE):
                assert row in rows, r
    assert labelled and all(kinds == set(SIGNIN_KINDS) for kinds in kinds_by_day.values())


def test_every_kind_has_its_records(lake):
    _, _, _, ct, _ = lake
    by_event = defaultdict(list)
    for o in ct:
        table = o.table.to_pylist()
        for label in o.labels:
            by_event[(label.event_id, label.kind)].append(table[label.row])
    for (_, kind), records in by_event.items():
        auth = [r for r in records if r["class_uid"] == 3002]
        ops = Counter(r["api"]["operation"] for r in auth)
        if kind == "signin_failures":
            assert ops["ConsoleLogin"] >= 10 and {r["status"] for r in auth} == {"Failure"}
        elif kind == "signin_new_network":
            assert ops["AssumeRoleWithSAML"] == 1 and ops["ConsoleLogin"] == 1
        elif kind == "role_new_range":
            assert ops["AssumeRoleWithWebIdentity"] == 1
        else:
            assert ops["AssumeRole"] == 1 and len(records) > 1


def test_the_signin_views_python_twin_agrees(lake):
    signin = pytest.importorskip("lakewatch.extract.signin")
    version, _, _, _, rows = lake
    for _, _, r in rows:
        if r["class_uid"] == 3002:
            assert signin.principal(r, version) == principal(r, version), r


def test_network_objects_are_the_same_with_or_without_cloudtrail():
    def digest(cloudtrail: bool) -> str:
        h = hashlib.sha256()
        options = _options(days=1, rows_per_day=3000, cloudtrail=cloudtrail)
        for o in LakeGenerator(options).objects():
            if o.source is not Source.CLOUD_TRAIL_MGMT:
                h.update(o.key.encode() + parquet_bytes(o.table))
                h.update(json.dumps([asdict(x) for x in o.labels]).encode())
        return h.hexdigest()

    assert digest(True) == digest(False)
    assert not [
        o
        for o in LakeGenerator(_options(days=1, cloudtrail=False)).objects()
        if o.source is Source.CLOUD_TRAIL_MGMT
    ]


def test_same_seed_same_bytes():
    def ct(seed):
        gen = LakeGenerator(_options(days=1, rows_per_day=3000, seed=seed))
        return [
            parquet_bytes(o.table) for o in gen.objects() if o.source is Source.CLOUD_TRAIL_MGMT
        ]

    assert ct(3) == ct(3) and ct(3) != ct(4)


def test_volume_is_about_the_share_of_rows_per_day():
    options = _options(days=1, rows_per_day=200_000, accounts=3, instances_per_account=20)
    rows = Counter()
    for o in LakeGenerator(options).objects():
        rows[o.source] += o.table.num_rows
    share = rows[Source.CLOUD_TRAIL_MGMT] / (rows[Source.VPC_FLOW] + rows[Source.ROUTE53])
    assert 0.025 < share < 0.04, rows


def test_instances_sessions_follow_churn():
    gen = LakeGenerator(_options("2.0", days=2, churn=0.5))
    for o in gen.objects():
        if o.source is not Source.CLOUD_TRAIL_MGMT:
            continue
        in_use = set(gen.churn.ids(o.day).uids)
        yesterday = set(gen.churn.ids(o.day - timedelta(days=1)).uids)
        for r in o.table.to_pylist():
            arn = r["actor"]["user"]["uid"] or ""
            if "-instance-role/" in arn:
                assert arn.rsplit("/", 1)[1] in in_use
            if r["api"]["operation"] == "RunInstances":
                assert r["resources"][0]["uid"].rsplit("/", 1)[1] in in_use - yesterday
            if r["api"]["operation"] == "TerminateInstances":
                assert r["resources"][0]["uid"].rsplit("/", 1)[1] in yesterday - in_use
