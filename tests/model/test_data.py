import gzip

import pytest

from lakewatch.model.data import BadDataError, read_pairs
from tests.conftest import write_csv


def test_bad_rows_are_counted_with_line_numbers(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "a,1.2.3.4\nb,5.6.7.8,extra\n\nc\nd,999.1.1.1\n,1.1.1.1\ne,2600::1\nf,8.8.8.8\n"
    )
    pairs = read_pairs(str(path), max_bad_share=1.0)
    assert pairs.entities.to_pylist() == ["a", "e", "f"]
    where = {(line, reason) for _, line, reason, _ in pairs.bad.examples}
    assert where == {
        (2, "expected 2 columns, found 3"),
        (3, "empty line"),
        (4, "expected 2 columns, found 1"),
        (5, "invalid IP address"),
        (6, "empty entity"),
    }
    assert pairs.bad.rows == 8 and pairs.bad.total == 5


def test_ipv4_only_counts_ipv6_as_bad(tmp_path):
    path = write_csv(tmp_path / "t.csv", [("a", "2600::1"), ("b", "1.1.1.1")])
    pairs = read_pairs(path, allow_ipv6=False, max_bad_share=1.0)
    assert (
        len(pairs) == 1
        and "IPv6 address (the built-in algorithm takes IPv4 only)" in pairs.bad.counts
    )


def test_too_many_bad_rows_fail_loudly(tmp_path):
    path = write_csv(tmp_path / "t.csv", [("a", "1.1.1.1")] * 98 + [("b", "nope")] * 2)
    assert len(read_pairs(path, max_bad_share=0.05)) == 98
    with pytest.raises(BadDataError, match=r"(?s)2 of 100 rows .*/t.csv:99: invalid IP address"):
        read_pairs(path, max_bad_share=0.01)


def test_folder_of_files_including_gzip(tmp_path):
    write_csv(tmp_path / "a.csv", [("a", "1.1.1.1")])
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.csv.gz").write_bytes(gzip.compress(b"b,2.2.2.2\nc,3.3.3.3\n"))
    pairs = read_pairs(str(tmp_path))
    assert sorted(pairs.entities.to_pylist()) == ["a", "b", "c"]
    assert len(pairs.sources) == 2


def test_s3_prefix(clients, aws):
    settings, _ = aws
    s3 = clients("s3")
    bucket = settings.results_bucket_name
    s3.put_object(Bucket=bucket, Key="train/day=1/part.csv", Body=b"a,1.1.1.1\n")
    s3.put_object(Bucket=bucket, Key="train/day=2/part.csv", Body=b"b,2.2.2.2\n")
    pairs = read_pairs(f"s3://{bucket}/train/", clients)
    assert pairs.entities.to_pylist() == ["a", "b"]
    with pytest.raises(FileNotFoundError, match="no objects"):
        read_pairs(f"s3://{bucket}/nothing/", clients)


def test_missing_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_pairs(str(tmp_path / "absent.csv"))


def test_entity_that_looks_like_a_number_keeps_its_text(tmp_path):
    path = write_csv(tmp_path / "t.csv", [("00123", "1.1.1.1")])
    assert read_pairs(path).entities.to_pylist() == ["00123"]


def test_slices_and_hashes_only_give_the_same_pairs_and_line_numbers(tmp_path, monkeypatch):
    """Parsed a slice at a time (here 3 rows), bad rows keep their file's line numbers; read
    without names, the pairs are the same hashes and addresses."""
    import numpy as np

    from lakewatch.model import data

    path = tmp_path / "t.csv"
    path.write_text("a,1.2.3.4\nb,999.1.1.1\nc,5.6.7.8\nd,9.9.9.9\n,1.1.1.1\nf,8.8.8.8\ng,x\n")
    whole = read_pairs(str(path), max_bad_share=1.0)
    monkeypatch.setattr(data, "PARSE_ROWS", 3)
    sliced = read_pairs(str(path), max_bad_share=1.0)
    bare = read_pairs(str(path), max_bad_share=1.0, names=False)
    assert sliced.entities.to_pylist() == ["a", "c", "d", "f"] == whole.entities.to_pylist()
    where = sorted((line, reason) for _, line, reason, _ in sliced.bad.examples)
    assert where == [(2, "invalid IP address"), (5, "empty entity"), (7, "invalid IP address")]
    for p in (sliced, bare):
        assert np.array_equal(p.entity_hash, whole.entity_hash)
        assert np.array_equal(p.addrs.lo, whole.addrs.lo)
    assert bare.entities is None and bare.take(np.array([1])).entities is None
    with pytest.raises(ValueError, match="without their entity names"):
        bare.names()
