"""lake.arrow_util: the generator's vectorised building blocks (nulls from negative values,
dotted quads, addresses inside their ranges, list columns)."""

import ipaddress

import numpy as np
import pyarrow as pa

from lakewatch.lake.arrow_util import const, ints, ipv4_strings, list_array, random_in_ranges, take


def test_negative_values_and_indexes_are_nulls():
    assert ints(np.array([3, -1, 0])).to_pylist() == [3, None, 0]
    assert take(pa.array(["a", "b"]), np.array([1, -1, 0])).to_pylist() == ["b", None, "a"]
    assert const("x", 3).to_pylist() == ["x", "x", "x"]


def test_ipv4_strings_match_the_standard_library():
    values = np.array([0, 1, 167772161, 3232235777, 4294967295], dtype=np.uint32)
    assert ipv4_strings(values).to_pylist() == [str(ipaddress.IPv4Address(int(v))) for v in values]


def test_random_addresses_stay_inside_their_ranges_and_off_their_edges():
    ranges = [
        (int(ipaddress.IPv4Address("10.1.2.0")), 64),
        (int(ipaddress.IPv4Address("52.0.0.0")), 256),
    ]
    out = random_in_ranges(np.random.default_rng(0), ranges, 5_000)
    inside = [any(base < int(v) < base + size - 1 for base, size in ranges) for v in out]
    assert all(inside)
    assert {int(v) >> 8 for v in out} == {base >> 8 for base, _ in ranges}  # both ranges drawn


def test_list_array_from_offsets():
    field = pa.field("item", pa.string())
    arr = list_array(np.array([0, 2, 2, 3]), pa.array(["a", "b", "c"]), field)
    assert arr.to_pylist() == [["a", "b"], [], ["c"]]
