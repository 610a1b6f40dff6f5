"""Headerless numeric CSV: training refuses a bad row by its line, scoring skips and counts."""

import gzip

import numpy as np
import pytest

from lakewatch.model.rcf.data import FeatureRowError, Skipped, scoring_rows, training_rows


def test_clean_rows_parse_fast_and_exactly():
    rows = training_rows("t.csv", b"1,2.5,-3\n4,5,6e2\n")
    np.testing.assert_array_equal(rows, np.array([[1, 2.5, -3], [4, 5, 600]], np.float32))
    gz = training_rows("t.csv.gz", gzip.compress(b"1,2\n3,4\n"))
    assert gz.shape == (2, 2)


@pytest.mark.parametrize(
    "body, message",
    [
        (b"1,2,3\n4,,6\n", "t.csv line 2: value 2 is missing"),
        (b"1,2,3\n4,5,nan\n", "t.csv line 2: value 3 is not finite"),
        (b"1,2,3\n4,5,inf\n", "line 2: value 3 is not finite: 'inf'"),
        (b"1,2,3\n4,5,x\n", "line 2: value 3 is not a number: 'x'"),
        (b"1,2,3\n\n4,5\n", r"line 3: 2 value\(s\), expected 3"),
        (b"1,2,3\n4,5,6,7\n", r"line 2: 4 value\(s\), expected 3"),
    ],
)
def test_training_refuses_the_row_by_number(body, message):
    with pytest.raises(FeatureRowError, match=message):
        training_rows("t.csv", body)


def test_scoring_skips_counts_and_keeps_places():
    skipped = Skipped()
    rows, lines, total = scoring_rows("s.csv", b"1,2\n3,\n5,inf\n7,8\n", 2, skipped)
    assert rows.tolist() == [[1, 2], [7, 8]]
    assert lines.tolist() == [1, 4] and total == 4
    assert skipped.rows == 2
    assert skipped.describe()[0] == "skipped 2 row(s) with a missing or non-finite value"
    assert "s.csv line 2: value 2 is missing" in skipped.describe()[1]
