"""The Lambda handler and the object reader under fuzzed input: never a crash, always a reason.

Every fuzzed message must end one of three ways: processed (scored or skipped), dead-lettered
as poison with a reason naming what was wrong, or failed as transient (only for what a retry
can fix: an object or bucket that is not there). Any other exception is a bug.
"""

from __future__ import annotations

import functools
import inspect
import json
from datetime import date

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lakewatch.extract.export import PairSet
from lakewatch.lake.layout import Source, parse_key
from lakewatch.lake.notify import object_created, s3_records, sns_wrapped
from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
from lakewatch.lake.write import parquet_bytes
from lakewatch.local.lambda_runtime import LambdaContext, load_handler
from lakewatch.scoring.errors import PoisonMessage, TransientError
from lakewatch.scoring.pairs import COLUMNS, object_pairs
from lakewatch.serving.lambda_config import APP_DIR, local_environment, scorer_config

DAY = date(2026, 11, 3)
FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=15,
)


@functools.cache
def day_objects():
    """One VPC Flow and one Route 53 object of a generated day (with injected anomalies)."""
    gen = LakeGenerator(GenerateOptions(days=1, start=DAY, rows_per_day=2000, seed=5))
    return {
        source: next(o for o in gen.objects() if o.source is source)
        for source in (Source.VPC_FLOW, Source.ROUTE53)
    }


@pytest.fixture
def fuzz_target(stack, clients, monkeypatch):
    settings_, _ = stack
    for k, v in local_environment(settings_, scorer_config(settings_, clients, pairs=None)).items():
        monkeypatch.setenv(k, v)
    lake = settings_.lake_bucket_name
    for obj in day_objects().values():
        clients("s3").put_object(Bucket=lake, Key=obj.key, Body=parquet_bytes(obj.table))
    handle = load_handler(APP_DIR)
    return lake, [o.key for o in day_objects().values()], handle


def _mutate(doc, path: list, value):
    """Replace (or delete, when value is ...) the node at path in a copy of doc."""
    doc = json.loads(json.dumps(doc))
    node = doc
    for step in path[:-1]:
        node = node[step]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


def _paths(doc, prefix=()):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield [*prefix, k]
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield [*prefix, i]
            yield from _paths(v, (*prefix, i))


@st.composite
def messages(draw, lake: str, keys: list[str]) -> str:
    kind = draw(st.sampled_from(["text", "json", "notification", "mutated"]))
    event(f"message: {kind}")
    if kind == "text":
        return draw(st.text(max_size=200))
    if kind == "json":
        return json.dumps(draw(JSON))
    bucket = draw(st.sampled_from([lake, "no-such-bucket-lakewatch"]) | st.text(max_size=20))
    key = draw(
        st.sampled_from(keys)
        | st.sampled_from(keys).map(lambda k: k.replace("2.0", "3.0"))
        | st.sampled_from(keys).map(lambda k: k.replace(".gz.parquet", "-gone.gz.parquet"))
        | st.text(max_size=60)
    )
    size = draw(st.none() | st.integers())
    shape = draw(st.sampled_from(["eventbridge", "s3", "sns"]))
    doc = (
        s3_records(bucket, key, size or 0, "e", "us-east-1")
        if shape == "s3"
        else object_created(bucket, key, size or 0, "e", "us-east-1", "1")
    )
    if shape == "sns":
        doc = sns_wrapped(doc, "arn:aws:sns:us-east-1:123456789012:t")
    if kind == "mutated":
        path = draw(st.sampled_from(list(_paths(doc))))
        doc = _mutate(doc, path, draw(st.just(...) | JSON))
    return json.dumps(doc)


def _record(i: int, body: str) -> dict:
    return {
        "messageId": f"m{i}",
        "receiptHandle": f"r{i}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1",
    }


@FUZZ
@given(data=st.data())
def test_fuzzed_messages_end_processed_dead_lettered_or_transient(fuzz_target, data):
    lake, keys, handle = fuzz_target
    body = data.draw(messages(lake, keys))
    app = inspect.unwrap(handle).__globals__
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})
    response = handle(
        {"Records": [_record(0, test_event), _record(1, body)]},
        LambdaContext("scorer", "us-east-1", "123456789012", 60),
    )
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert "m0" not in failed  # the well-formed record is never held back by its neighbour
    errors = [info[1] for info in app["processor"].exceptions]
    assert len(errors) == len(failed)
    for err in errors:
        # only what a retry can fix goes back to the queue, and it says what and where
        assert isinstance(err, TransientError), f"{type(err).__name__}: {err} for {body!r}"
        assert "s3://" in str(err), err
    event("outcome: " + ("retried" if failed else "processed or dead-lettered"))


@st.composite
def object_bodies(draw) -> tuple[str, bytes]:
    obj = day_objects()[draw(st.sampled_from([Source.VPC_FLOW, Source.ROUTE53]))]
    good = parquet_bytes(obj.table)
    kind = draw(st.sampled_from(["bytes", "truncated", "flipped", "retyped", "revalued"]))
    event(f"object: {kind}")
    if kind == "bytes":
        return obj.key, draw(st.binary(max_size=300))
    if kind == "truncated":
        return obj.key, good[: draw(st.integers(0, len(good) - 1))]
    if kind == "flipped":
        data = bytearray(good)
        for at in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
            data[at] ^= draw(st.integers(1, 255))
        return obj.key, bytes(data)
    table = obj.table
    column = draw(st.sampled_from([c for c in COLUMNS[obj.source] if c in table.column_names]))
    n = table.num_rows
    if kind == "retyped":  # the right name, the wrong type
        array = draw(
            st.sampled_from(
                [
                    pa.array(["x"] * n),
                    pa.array([1] * n),
                    pa.nulls(n),
                    pa.array([{"ip": 1}] * n),
                    pa.array([[{"rdata": 3}]] * n),
                ]
            )
        )
    else:  # the right type, hostile values in one of its string fields
        array = _revalue(table[column].combine_chunks(), draw(st.text(max_size=50)))
    table = table.set_column(table.column_names.index(column), column, array)
    return obj.key, parquet_bytes(table)


def _revalue(array: pa.Array, text: str) -> pa.Array:
    if pa.types.is_string(array.type):
        return pa.array([text] * len(array), array.type)
    if pa.types.is_struct(array.type):
        fields = [_revalue(array.field(i), text) for i in range(array.type.num_fields)]
        return pa.StructArray.from_arrays(fields, fields=list(array.type))
    if pa.types.is_list(array.type):
        return pa.ListArray.from_arrays(
            array.offsets, _revalue(array.flatten(), text), type=array.type
        )
    return array


@FUZZ
@given(data=st.data())
def test_fuzzed_objects_are_read_or_refused_with_their_key(data):
    key, body = data.draw(object_bodies())
    parsed = parse_key(key)
    try:
        result = object_pairs(body, parsed, PairSet(), "us-east-1")
    except PoisonMessage as err:
        assert key in str(err), err
        event("refused as poison")
        return
    # read: every candidate pair is classified, kept or dropped with a status
    assert result.pairs.num_rows == 0 or result.pairs["status"].null_count == 0
    event("read")
