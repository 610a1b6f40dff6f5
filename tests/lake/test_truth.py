"""The truth file: written from the synthetic lake's labels, read back, bad rows named."""

from __future__ import annotations

import pytest

from lakewatch.lake.truth import TruthError, TruthRow, parse_truth, rows_from_labels, truth_csv


def test_labels_become_one_row_per_event_and_pair_spanning_its_rows():
    labels = [
        {"event_id": "e1", "kind": "c2_beacon", "entity": "i-1", "ip": "1.2.3.4", "time": 5_000},
        {"event_id": "e1", "kind": "c2_beacon", "entity": "i-1", "ip": "1.2.3.4", "time": 2_000},
        {"event_id": "e2", "kind": "scan", "entity": "i-2", "ip": "2001:db8::1", "time": 1_000},
    ]
    rows = rows_from_labels(labels)
    assert rows == [
        TruthRow("scan", "i-2", "2001:db8::1", 1_000, 1_000),
        TruthRow("c2_beacon", "i-1", "1.2.3.4", 2_000, 5_000),
    ]
    text = truth_csv(rows)
    assert text.splitlines()[0] == "kind,entity,address,start,end"
    assert "c2_beacon,i-1,1.2.3.4,1970-01-01T00:00:02.000Z,1970-01-01T00:00:05.000Z" in text
    back = parse_truth(text)
    assert [(r.kind, r.entity, r.address, r.start_ms, r.end_ms) for r in back] == [
        (r.kind, r.entity, r.address, r.start_ms, r.end_ms) for r in rows
    ]


def test_empty_entity_and_address_mean_any_and_a_zoneless_time_is_utc():
    (row,) = parse_truth(
        "kind,entity,address,start,end\nexfil,,,2026-11-01T00:00:00,2026-11-01T01:00:00Z\n"
    )
    assert (row.entity, row.address, row.end_ms - row.start_ms) == ("", "", 3_600_000)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("kind,who,address,start,end\n", "line 1: the header must be"),
        (
            "kind,entity,address,start,end\nscan,i-1,1.2.3.4,yesterday,2026-11-01T00:00:00Z\n",
            "line 2: start 'yesterday'",
        ),
        ("kind,entity,address,start,end\nscan,i-1,1.2.3.4\n", "line 2: 3 fields, expected 5"),
        (
            "kind,entity,address,start,end\n,i-1,,2026-11-01T00:00:00Z,2026-11-01T00:00:00Z\n",
            "line 2: kind is empty",
        ),
        (
            "kind,entity,address,start,end\nscan,,,2026-11-02T00:00:00Z,2026-11-01T00:00:00Z\n",
            "line 2: end is before start",
        ),
    ],
)
def test_a_bad_row_names_the_file_and_line(body, why):
    with pytest.raises(TruthError, match=f"truth.csv, {why}"):
        parse_truth(body, "truth.csv")


def test_a_file_saved_by_a_spreadsheet_with_a_byte_order_mark_reads(tmp_path):
    from lakewatch.lake.truth import read_truth

    path = tmp_path / "truth.csv"
    path.write_bytes(
        "\ufeffkind,entity,address,start,end\nscan,,1.2.3.4,2026-11-01T00:00:00Z,"
        "2026-11-01T00:00:00Z\n".encode()
    )
    assert [r.address for r in read_truth(path)] == ["1.2.3.4"]
