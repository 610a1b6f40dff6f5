"""lake.sink: a folder and an S3 bucket (with or without a key prefix) behave as the same object
store: put, get, list under a prefix, URIs, deletes; a folder never lists a half-written file."""

import hashlib
import uuid

import pytest

from lakewatch.lake.sink import LocalStore, S3Store, open_store


@pytest.fixture(params=["folder", "bucket", "bucket/prefix"])
def store(request, tmp_path, clients):
    if request.param == "folder":
        return LocalStore(tmp_path)
    bucket = f"sink-{uuid.uuid4().hex[:8]}"
    clients("s3").create_bucket(Bucket=bucket)
    return S3Store(clients("s3"), bucket, "lake/" if request.param.endswith("prefix") else "")


def test_every_store_puts_lists_and_deletes_alike(store):
    meta = store.put("aws/VPC_FLOW/a.parquet", b"abc")
    assert meta == {"size": 3, "etag": hashlib.md5(b"abc").hexdigest()}  # S3's single-part ETag
    store.put("aws/VPC_FLOW/b.parquet", b"")
    store.put("ext/x.json", b"{}")
    assert store.get("aws/VPC_FLOW/a.parquet") == b"abc"
    assert sorted(store.list("aws/")) == ["aws/VPC_FLOW/a.parquet", "aws/VPC_FLOW/b.parquet"]
    assert store.uri("ext/x.json").endswith("ext/x.json")
    store.delete(["aws/VPC_FLOW/a.parquet", "aws/VPC_FLOW/b.parquet"])
    assert list(store.list("")) == ["ext/x.json"]


def test_every_store_puts_a_file_without_reading_it_whole(store, tmp_path):
    src = tmp_path / "part.csv"
    src.write_bytes(b"i-1,10.0.0.1\n" * 1000)
    store.put_file("ext/part.csv", src)
    assert store.get("ext/part.csv") == src.read_bytes()
    assert src.exists()  # the source stays: its owner deletes it
    assert list(store.list("ext/")) == ["ext/part.csv"]


def test_a_prefixed_bucket_keeps_its_objects_under_the_prefix(clients):
    bucket = f"sink-{uuid.uuid4().hex[:8]}"
    clients("s3").create_bucket(Bucket=bucket)
    store = open_store(f"s3://{bucket}/lake", clients)
    store.put("k", b"v")
    assert store.uri("k") == f"s3://{bucket}/lake/k"
    keys = [o["Key"] for o in clients("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["lake/k"]


def test_a_folder_never_lists_a_temporary_file(tmp_path):
    store = LocalStore(tmp_path)
    (tmp_path / "day").mkdir()
    (tmp_path / "day" / ".tmp-abc").write_bytes(b"half")  # a writer killed mid-put
    store.put("day/whole", b"x")
    assert list(store.list("")) == ["day/whole"]


def test_locations_that_cannot_be_opened_say_why(tmp_path):
    assert isinstance(open_store(str(tmp_path)), LocalStore)
    with pytest.raises(ValueError, match="needs AWS clients"):
        open_store("s3://bucket/lake")
    with pytest.raises(ValueError, match="unsupported location 'gs://b'"):
        open_store("gs://b")


def test_a_days_partitions_across_regions_and_accounts_are_the_same_on_every_store(store):
    from datetime import date

    from lakewatch.lake.sink import day_partition_keys

    wanted = []
    for region in ("us-east-1", "eu-west-1"):
        for account in ("111111111111", "222222222222"):
            for day in ("20261103", "20261104"):
                key = f"ext/region={region}/accountId={account}/eventDay={day}/f.parquet"
                store.put(key, b"x")
                if day == "20261103":
                    wanted.append(key)
    store.put("other/region=us-east-1/accountId=1/eventDay=20261103/g.parquet", b"x")
    assert day_partition_keys(store, "ext/", date(2026, 11, 3)) == sorted(wanted)
    assert day_partition_keys(store, "ext/", date(2026, 11, 5)) == []
