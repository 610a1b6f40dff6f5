"""The scorer honours analysts' suppressions (``lakewatch findings suppress``) until they
expire, and counts what it silenced; with Security Hub on, it imports the findings it stored
and counts what Security Hub refused, never failing for it."""

from datetime import UTC, date, datetime, timedelta

from botocore.exceptions import ClientError

from lakewatch.backends import LocalBackend
from lakewatch.lake.layout import Source
from lakewatch.lake.sink import S3Store
from lakewatch.review import feedback
from lakewatch.review.rows import read_day
from lakewatch.scoring.events import ObjectRef
from lakewatch.scoring.process import Scorer
from lakewatch.serving.lambda_config import scorer_config
from tests.aws.test_securityhub import _stored
from tests.scoring.test_handler import _put_day_objects


def _flagged(scorer: Scorer, objects, bucket) -> tuple[set[tuple[str, str]], int]:
    pairs, suppressed = set(), 0
    for obj in objects:
        result = scorer.process_object(ObjectRef(bucket, obj.key, None, "s3"))
        suppressed += result.suppressed
    store = S3Store(scorer.clients("s3"), scorer.config.results_bucket)
    for f in read_day(store, scorer.config.findings_prefix, date(2026, 11, 5)):
        if dict(f["unmapped"]).get("lakewatch.kind") == "anomalous_pair":
            pairs.add((f["resources"][0]["uid"], f["observables"][1]["value"]))
    return pairs, suppressed


def test_a_suppressed_pair_is_not_a_finding_until_the_suppression_expires(stack, clients):
    settings, _ = stack
    config = scorer_config(settings, clients).model_copy(update={"threshold_ttl_s": 0.0})
    scorer = Scorer(config, LocalBackend(settings).clients())
    objects = [
        o
        for o in _put_day_objects(clients, settings.lake_bucket_name, day=date(2026, 11, 5))
        if o.source is Source.VPC_FLOW
    ]
    before, suppressed = _flagged(scorer, objects, settings.lake_bucket_name)
    assert before and suppressed == 0
    instance, ip = sorted(before)[0]
    store = S3Store(clients("s3"), settings.results_bucket_name)
    now = datetime.now(UTC)
    expired = feedback.Suppression(
        instance,
        f"{ip}/32",
        "",
        (now - timedelta(days=1)).isoformat(),
        "old",
        "carol",
        (now - timedelta(days=8)).isoformat(),
    )
    feedback.add_suppression(store, settings.feedback_prefix, expired)
    assert _flagged(scorer, objects, settings.lake_bucket_name)[1] == 0  # expired: no effect
    feedback.add_suppression(
        store,
        settings.feedback_prefix,
        feedback.suppression_for(instance, ip, None, None, 7, "known backup", "alice"),
    )
    for key in list(store.list(settings.findings_prefix)):  # start the day's findings afresh
        clients("s3").delete_object(Bucket=settings.results_bucket_name, Key=key)
    after, suppressed = _flagged(scorer, objects, settings.lake_bucket_name)
    assert suppressed >= 1
    assert (instance, ip) not in after
    # nothing new is flagged; besides the suppressed pair, only pairs that were flagged as its
    # incident's companions may go (another pair of the instance within the hour, the other
    # end of its connection): a suppressed pair is no evidence for others either
    assert after <= before - {(instance, ip)}
    assert len(before - after) <= 3, before - after


def test_per_view_offsets_move_each_views_scores():
    import numpy as np

    from lakewatch.scoring.process import shifted

    values = np.array([-1.0, -1.0, -1.0])
    views = ["egress_peer", "ingress_peer", "dns_answer"]
    assert shifted(values, views, {}) is values  # pooled: untouched
    moved = shifted(values, views, {"outbound": 0.5, "inbound": -2.0})
    # outbound's threshold is 0.5 above the pooled one: its pairs sit 0.5 lower against it
    assert moved.tolist() == [-1.5, 1.0, -1.5]
    # a sign-in is no network peer: only a signin offset (its own threshold) moves it
    views = ["egress_peer", "signin"]
    assert shifted(values[:2], views, {"outbound": 0.5}).tolist() == [-1.5, -1.0]
    assert shifted(values[:2], views, {"signin": -0.25}).tolist() == [-1.0, -0.75]


# the scorer reads only what it subscribed to --------------------------------------------------

LAKE, RESULTS = "aws-security-data-lake-us-east-1-x", "lakewatch-results"
VPC_KEY = (
    "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/eventDay=20261103/"
    "0123456789abcdef0123456789abcdef.gz.parquet"
)


class _S3:
    """An S3 client that records GetObject calls and answers them with ``error``."""

    def __init__(self, error: str = ""):
        self.gets: list[tuple[str, str]] = []
        self.error = error

    def get_object(self, Bucket, Key, **kw):
        from botocore.exceptions import ClientError

        self.gets.append((Bucket, Key))
        raise ClientError({"Error": {"Code": self.error or "NoSuchKey", "Message": ""}}, "Get")


def _offline_scorer(s3: _S3, **config) -> Scorer:
    from lakewatch.scoring.config import ScorerConfig

    conf = ScorerConfig(
        endpoint_name="ep",
        threshold_parameter="/t",
        results_bucket=RESULTS,
        **{"lake_bucket": LAKE, **config},
    )
    return Scorer(conf, lambda service: s3 if service == "s3" else object())


def _message(bucket: str, key: str) -> str:
    import json

    from lakewatch.lake.notify import object_created

    return json.dumps(object_created(bucket, key, 1, "e", "us-east-1", "1"))


def test_another_bucket_is_poison_naming_both_and_never_fetched():
    import pytest

    from lakewatch.scoring.errors import PoisonMessage

    s3 = _S3()
    with pytest.raises(PoisonMessage) as err:
        _offline_scorer(s3).process_message(_message("someone-elses-bucket", VPC_KEY))
    assert "someone-elses-bucket" in str(err.value) and LAKE in str(err.value)
    assert s3.gets == []


def test_keys_outside_the_read_sources_are_poison_and_the_lakes_own_keys_skipped():
    import pytest

    from lakewatch.scoring.errors import PoisonMessage
    from lakewatch.scoring.process import READ_SOURCES, SCORED_SOURCES

    assert {"VPC_FLOW", "ROUTE53"} == SCORED_SOURCES < READ_SOURCES
    s3 = _S3()
    scorer = _offline_scorer(s3)
    for key in (
        VPC_KEY.replace("VPC_FLOW", "EKS_AUDIT"),  # a source lakewatch does not read
        "ext/other-vendor/findings.parquet",  # a custom source
        "notes.txt",
        "copy/" + VPC_KEY,  # not at the bucket's root, where the function's role may read
    ):
        with pytest.raises(PoisonMessage, match="not under a source lakewatch reads"):
            scorer.process_message(_message(LAKE, key))
    # Security Lake's own non-data keys of a read source, and the evidence sources: expected
    # on the queue, skipped with the reason
    metadata = scorer.process_message(_message(LAKE, "aws/VPC_FLOW/2.0/metadata/0-x.json"))
    assert "not a Security Lake data object" in metadata[0].skipped
    evidence = scorer.process_message(_message(LAKE, VPC_KEY.replace("VPC_FLOW", "SH_FINDINGS")))
    assert "evidence, not scored" in evidence[0].skipped
    cloudtrail = scorer.process_message(
        _message(LAKE, VPC_KEY.replace("VPC_FLOW", "CLOUD_TRAIL_MGMT"))
    )
    assert "not scored in real time" in cloudtrail[0].skipped  # on the queue: no dead letter
    assert s3.gets == []


def test_cloudtrail_is_read_when_the_pair_set_has_the_signin_view():
    import pytest

    from lakewatch.scoring.errors import TransientError
    from lakewatch.scoring.process import scored_sources

    assert scored_sources("dns_answer+egress_peer+ingress_peer") == {"VPC_FLOW", "ROUTE53"}
    assert "CLOUD_TRAIL_MGMT" in scored_sources("egress_peer+signin")
    s3 = _S3()
    key = VPC_KEY.replace("VPC_FLOW", "CLOUD_TRAIL_MGMT")
    with pytest.raises(TransientError, match="does not exist"):  # read: it was fetched
        _offline_scorer(s3, pairs="signin").process_message(_message(LAKE, key))
    assert s3.gets == [(LAKE, key)]


def test_the_canarys_objects_in_the_results_bucket_are_read_and_nothing_else_there():
    import pytest

    from lakewatch.scoring.errors import PoisonMessage, TransientError

    s3 = _S3()
    scorer = _offline_scorer(s3)
    with pytest.raises(TransientError, match="does not exist"):  # read: it was fetched
        scorer.process_message(_message(RESULTS, "canary/" + VPC_KEY))
    assert s3.gets == [(RESULTS, "canary/" + VPC_KEY)]
    for key in (VPC_KEY, "canary/" + VPC_KEY.replace("VPC_FLOW", "ROUTE53"), "models/x"):
        with pytest.raises(PoisonMessage, match="holds nothing the scorer reads"):
            scorer.process_message(_message(RESULTS, key))
    assert len(s3.gets) == 1


def test_access_denied_on_the_lakes_own_key_is_poison_not_a_retry():
    import pytest

    from lakewatch.scoring.errors import PoisonMessage, TransientError

    s3 = _S3("AccessDenied")
    with pytest.raises(PoisonMessage, match="access denied reading s3://"):
        _offline_scorer(s3).process_message(_message(LAKE, VPC_KEY))
    assert s3.gets == [(LAKE, VPC_KEY)]
    with pytest.raises(TransientError, match="LAKEWATCH_LAKE_BUCKET"):  # not configured: retried
        _offline_scorer(_S3(), lake_bucket="").process_message(_message(LAKE, VPC_KEY))


# memory bounded by a budget ---------------------------------------------------------------------


def _generated_object(rows_per_day: int = 30_000, seed: int = 7):
    from lakewatch.lake.layout import parse_key
    from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
    from lakewatch.lake.write import parquet_bytes

    gen = LakeGenerator(
        GenerateOptions(days=1, start=date(2026, 11, 3), rows_per_day=rows_per_day, seed=seed)
    )
    obj = max(
        (o for o in gen.objects() if o.source is Source.VPC_FLOW), key=lambda o: len(o.labels)
    )
    return obj, parquet_bytes(obj.table), parse_key(obj.key)


def test_only_the_needed_pairs_become_python_objects_and_the_findings_are_identical():
    """``needed_pairs`` on a generated object with injected anomalies finds exactly what the
    scorer found materializing every pair (``all_pairs``), incidents of every shape
    included, in the same order."""
    import numpy as np
    import pyarrow as pa

    from lakewatch.extract.export import PairSet
    from lakewatch.scoring.pairs import object_pairs
    from lakewatch.scoring.process import ObjectResult, all_pairs, needed_pairs, object_findings
    from lakewatch.threshold.published import PublishedThreshold

    obj, body, key = _generated_object()
    extracted = object_pairs(body, key, PairSet(), "us-east-1")
    kept = extracted.pairs.filter(pa.compute.equal(extracted.pairs["status"], "ok"))
    rng = np.random.default_rng(3)
    n = kept.num_rows
    scores = rng.normal(0.0, 1.0, n)
    scores[rng.random(n) < 0.01] = np.nan  # no score
    labelled = {(lb.entity, lb.ip) for lb in obj.labels}
    pairs_of = list(zip(kept["entity"].to_pylist(), kept["ip"].to_pylist(), strict=True))
    low = np.array([p in labelled for p in pairs_of])
    scores[low] = rng.normal(-3.0, 0.5, int(low.sum()))  # the anomalies score low
    # and some connections between the account's instances, unusual at both ends
    mine = {a for addresses in extracted.own_addresses.values() for a in addresses}
    inside = np.array([ip in mine for _, ip in pairs_of]) & (rng.random(n) < 0.8)
    scores[inside] = rng.normal(-1.9, 0.3, int(inside.sum()))
    entities = sorted(set(kept["entity"].to_pylist()))
    unseen = [e for e in entities if not e.endswith("/in")][-1]  # the model never saw it
    known = np.array([e != unseen for e, _ in pairs_of])
    table = kept.append_column("score", pa.array(scores)).append_column(
        "known_entity", pa.array(known)
    )
    rates = {entities[0]: 0.05, entities[1]: 0.2}
    for threshold in (
        PublishedThreshold(
            threshold=float(np.nanquantile(scores, 0.02)),
            model_id="m",
            target_fpr=0.02,
            strict_threshold=float(np.nanquantile(scores, 0.002)),
            loose_threshold=float(np.nanquantile(scores, 0.1)),
            scale=0.7,
        ),
        PublishedThreshold(threshold=float(np.nanquantile(scores, 0.01)), model_id="m"),
    ):
        every = all_pairs(table)
        needed, tail = needed_pairs(table, extracted.own_addresses, threshold, rates)
        assert len(needed) < len(every) / 5
        before, after = ObjectResult("b", key.key), ObjectResult("b", key.key)
        common = {"key": key, "bucket": "b", "now_ms": 1}
        old = object_findings(
            every, extracted.own_addresses, threshold, rates, result=before, **common
        )
        new = object_findings(
            needed, extracted.own_addresses, threshold, rates, result=after, tail=tail, **common
        )
        assert new == old
        assert (after.anomalies, after.unknown, after.incidents) == (
            before.anomalies,
            before.unknown,
            before.incidents,
        )
        shapes = {
            f["unmapped"]["lakewatch.incident_shape"]
            for f in old
            if f["unmapped"]["lakewatch.kind"] == "incident"
        }
        assert before.anomalies and before.unknown
        if threshold.loose_threshold is not None:
            assert {"scan", "entity", "connection"} <= shapes, shapes


def test_an_object_over_the_memory_budget_fails_retryably_naming_it_its_rows_and_the_budget():
    """Retried, not poison: a warm function's allocators keep what earlier objects used, so a
    fresh one may fit it; the queue's last receive dead-letters it with this reason."""
    import pytest

    from lakewatch.scoring.errors import TransientError
    from lakewatch.scoring.process import ObjectResult

    obj, body, key = _generated_object(4000)
    scorer = _offline_scorer(_S3(), memory_budget_mb=1)
    with pytest.raises(TransientError) as err:
        scorer.score_object(body, key, LAKE, ObjectResult(LAKE, key.key))
    reason = str(err.value)
    assert f"s3://{LAKE}/{key.key}" in reason
    assert f"({obj.table.num_rows:,} rows)" in reason and "budget of 1 MB" in reason


def test_a_large_object_is_read_in_ranges_with_the_same_pairs_and_failures_kept():
    import pytest

    from lakewatch.extract.export import PairSet
    from lakewatch.scoring.errors import TransientError
    from lakewatch.scoring.pairs import object_pairs
    from lakewatch.scoring.process import RangedObject

    _, body, key = _generated_object(4000)

    def read_range(span: str) -> bytes:
        start, end = span.removeprefix("bytes=").split("-")
        return body[int(start) : int(end) + 1]

    whole = object_pairs(body, key, PairSet(), "us-east-1")
    ranged = RangedObject(read_range, len(body))
    assert object_pairs(ranged, key, PairSet(), "us-east-1").pairs.equals(whole.pairs)
    assert 1 < ranged.requests < 50

    def flaky(span: str) -> bytes:
        if span.endswith(f"-{len(body) - 1}"):
            return read_range(span)  # the footer reads, then the first column chunk fails
        raise TransientError(f"reading s3://{LAKE}/{key.key}: SlowDown")

    with pytest.raises(TransientError, match="SlowDown"):  # a retry, not poison
        object_pairs(RangedObject(flaky, len(body)), key, PairSet(), "us-east-1")


class _DisabledHub:
    """Security Hub as an account without it answers BatchImportFindings."""

    def batch_import_findings(self, **kwargs):
        raise ClientError(
            {
                "Error": {"Code": "InvalidAccessException", "Message": "not subscribed"},
                "ResponseMetadata": {"HTTPStatusCode": 401},
            },
            "BatchImportFindings",
        )


def test_stored_findings_reach_security_hub_and_a_refusing_hub_fails_nothing(stack, clients):
    """With the setting on, an object's findings are imported once stored, under the
    behaviour's ids (a re-delivery updates them); a hub that refuses them is counted in the
    result, and the object is scored and stored all the same."""
    settings, _ = stack
    hub = clients("securityhub")
    hub.enable_security_hub(EnableDefaultStandards=False)
    config = scorer_config(settings, clients).model_copy(
        update={"security_hub_findings": True, "threshold_ttl_s": 0.0}
    )
    local = LocalBackend(settings).clients()
    days = _put_day_objects(clients, settings.lake_bucket_name, day=date(2026, 11, 7))
    obj = next(o for o in days if o.source is Source.VPC_FLOW and o.labels)
    ref = ObjectRef(settings.lake_bucket_name, obj.key, None, "s3")
    result = Scorer(config, local).process_object(ref)
    store = S3Store(clients("s3"), settings.results_bucket_name)
    written = read_day(store, settings.findings_prefix, date(2026, 11, 7))
    uids = {f["finding_info"]["uid"] for f in written}
    assert uids and (result.imported, result.not_imported) == (len(uids), 0)
    stored = _stored(hub, uids)
    assert set(stored) == uids
    assert {f["AwsAccountId"] for f in stored.values()} == {settings.account_id}
    again = Scorer(config, local).process_object(ref)  # the notification delivered again
    assert again.imported == len(uids) and set(_stored(hub, uids)) == uids

    refusing = Scorer(config, lambda s: _DisabledHub() if s == "securityhub" else local(s))
    refused = refusing.process_object(ref)
    assert refused.findings == result.findings  # stored, as before
    assert (refused.imported, refused.not_imported) == (0, len(uids))
    assert refused.import_error.startswith("InvalidAccessException")
    off = Scorer(config.model_copy(update={"security_hub_findings": False}), refusing.clients)
    assert off.process_object(ref).not_imported == 0  # off: Security Hub never asked


def test_a_new_instance_is_scored_as_the_sibling_whose_networks_it_uses():
    """A new instance of a known service (auto scaling, a deploy) has no history; the scorer
    asks the model about its pairs as the known instance they resemble, over the object."""
    import numpy as np
    import pyarrow as pa

    from lakewatch.model import detector as det
    from lakewatch.model.data import pairs_from_lists
    from lakewatch.model.encoding import entity_hashes
    from lakewatch.scoring.process import stand_ins_for

    ents, ips = [], []
    for s in range(4):
        for i in range(4):
            ents += [f"i-{s}{i}"] * 12
            ips += [f"10.{s}.{r}.{i + 5}" for r in range(6)] * 2
    names: dict[str, int] = {}
    pairs = pairs_from_lists(ents, ips)
    hashes = entity_hashes(ents, names)
    found = det.build(
        hashes, pairs.addrs, hashes, pairs.addrs, lambda h, a: np.zeros(len(h)), names=names
    )
    kept = pa.table(
        {
            "entity": ["i-new"] * 3 + ["i-00", "i-lonely"],
            "ip": ["10.2.0.9", "10.2.3.9", "10.2.5.9", "10.0.0.5", "203.0.113.9"],
        }
    )
    rows = stand_ins_for(kept, found)
    assert rows is not None
    assert {found.name(int(r)) for r in rows[:3]} <= {f"i-2{i}" for i in range(4)}
    assert rows[3] == -1 and rows[4] == -1  # known itself; nobody's networks: unknown_entity
    assert stand_ins_for(kept.slice(3, 1), found) is None  # nothing new: the names as they are


def test_address_codes_are_equal_exactly_when_the_addresses_are():
    """IPv4 as its 32-bit value only when written the one way; every other text numbered
    among the others, above every IPv4 code, across chunks."""
    import numpy as np
    import pyarrow as pa

    from lakewatch.scoring.process import _ip_codes

    texts = [
        ["10.0.0.1", "2001:db8::1", "010.0.0.1", "255.255.255.255", "0.0.0.0"],
        ["10.0.0.1", "2001:db8::1", "1.2.3", "256.1.1.1", "10.0.0.01", "192.168.1.7"],
    ]
    codes, scale = _ip_codes(pa.chunked_array(texts))
    flat = [t for chunk in texts for t in chunk]
    for i, a in enumerate(flat):
        for j, b in enumerate(flat):
            assert (codes[i] == codes[j]) == (a == b), (a, b)
    assert codes[0] == 10 << 24 | 1 and codes[3] == 2**32 - 1 and codes[4] == 0
    assert codes.max() < scale and (codes[[1, 2, 7, 8, 9]] >= 2**32).all()
    assert np.array_equal(_ip_codes(pa.array(flat))[0], codes)


def test_membership_by_binary_search_is_numpys():
    import numpy as np

    from lakewatch.scoring.process import _within

    rng = np.random.default_rng(0)
    values = rng.integers(0, 1 << 40, 10_000)
    for among in (values[rng.random(10_000) < 0.01], rng.integers(0, 1 << 40, 50), values[:0]):
        assert np.array_equal(_within(values, among), np.isin(values, among))
