"""aws.s3: URIs parsed strictly, listings past one page, atomic writes (a large body never shows
half-written at its final key), prefix deletes in batches; against the emulator."""

import uuid

import pytest

from lakewatch.aws.s3 import S3Uri, delete_prefix, is_s3, list_keys, put_atomic


@pytest.fixture
def bucket(clients):
    name = f"s3-helpers-{uuid.uuid4().hex[:8]}"
    clients("s3").create_bucket(Bucket=name)
    return clients("s3"), name


def test_uris_parse_join_and_refuse_what_is_not_s3():
    uri = S3Uri.parse("s3://lake/aws/VPC_FLOW/")
    assert uri == S3Uri("lake", "aws/VPC_FLOW/")
    assert str(uri.join("/2.0/", "x.parquet")) == "s3://lake/aws/VPC_FLOW/2.0/x.parquet"
    assert is_s3("s3://b/k") and not is_s3("/tmp/b/k")
    for bad in ("/tmp/lake", "s3:///key", "https://lake/key"):
        with pytest.raises(ValueError, match="not an s3:// URI"):
            S3Uri.parse(bad)


def test_listing_follows_pages_and_delete_prefix_removes_only_the_prefix(bucket):
    s3, name = bucket
    for i in range(1_005):  # over one list page (1,000) and one delete batch
        s3.put_object(Bucket=name, Key=f"a/{i:05d}", Body=b"")
    s3.put_object(Bucket=name, Key="b/keep", Body=b"")
    assert len(list(list_keys(s3, name, "a/"))) == 1_005
    assert delete_prefix(s3, name, "a/") == 1_005
    assert [o["Key"] for o in list_keys(s3, name, "")] == ["b/keep"]


@pytest.mark.parametrize("as_file", [False, True])
def test_put_atomic_writes_small_and_large_bodies_and_leaves_no_temporary_key(
    bucket, tmp_path, as_file
):
    s3, name = bucket

    def body(data: bytes):  # the bytes, or a file streamed from disk
        if not as_file:
            return data
        path = tmp_path / f"body-{len(data)}"
        path.write_bytes(data)
        return path

    put_atomic(s3, name, "small", body(b"x"), ContentType="text/plain")
    assert s3.get_object(Bucket=name, Key="small")["ContentType"] == "text/plain"
    assert s3.get_object(Bucket=name, Key="small")["Body"].read() == b"x"
    large = bytes(64 * 1024 * 1024 + 1)  # through a temporary key and a server-side copy
    put_atomic(s3, name, "large", body(large))
    assert s3.head_object(Bucket=name, Key="large")["ContentLength"] == len(large)
    assert sorted(o["Key"] for o in list_keys(s3, name, "")) == ["large", "small"]


def test_a_failed_large_upload_never_publishes_a_partial_key(bucket, monkeypatch):
    s3, name = bucket

    def broken_upload(*args, **kwargs):
        raise ConnectionError("network gone mid-upload")

    monkeypatch.setattr(s3, "upload_fileobj", broken_upload)
    with pytest.raises(ConnectionError):
        put_atomic(s3, name, "large", bytes(64 * 1024 * 1024 + 1))
    assert list(list_keys(s3, name, "")) == []
