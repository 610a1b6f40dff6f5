"""Vectorised Arrow building blocks for the generator."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

INT64 = pa.int64()
STRING = pa.string()


def ints(values: np.ndarray, typ: pa.DataType = INT64) -> pa.Array:
    """Integers with negative values as nulls."""
    values = np.asarray(values)
    return pa.array(values, type=typ, mask=values < 0)


def take(pool: pa.Array, index: np.ndarray) -> pa.Array:
    """``pool[index]`` with negative indexes as nulls."""
    index = np.asarray(index, dtype=np.int64)
    return pool.take(pa.array(index, mask=index < 0))


def const(value, n: int, typ: pa.DataType = STRING) -> pa.Array:
    return pa.array([value], type=typ).take(pa.array(np.zeros(n, dtype=np.int64)))


def ipv4_strings(addresses: np.ndarray) -> pa.Array:
    """Dotted quads for an array of 32-bit integers."""
    addresses = np.asarray(addresses, dtype=np.uint32)
    parts = [
        pa.array(((addresses >> s) & 255).astype(np.int32)).cast(pa.string())
        for s in (24, 16, 8, 0)
    ]
    return pc.binary_join_element_wise(*parts, ".")


def random_in_ranges(rng: np.random.Generator, ranges: list[tuple[int, int]], n: int) -> np.ndarray:
    """``n`` random IPv4 integers, each inside one of ``ranges`` ((network int, size))."""
    which = rng.integers(0, len(ranges), n)
    base = np.array([r[0] for r in ranges], dtype=np.int64)[which]
    size = np.array([r[1] for r in ranges], dtype=np.int64)[which]
    return (base + 1 + (rng.random(n) * (size - 2)).astype(np.int64)).astype(np.uint32)


def list_array(offsets: np.ndarray, values: pa.Array, item_field: pa.Field) -> pa.Array:
    """A list column from offsets (n+1) and flat values."""
    return pa.ListArray.from_arrays(
        pa.array(offsets, type=pa.int32()), values, type=pa.list_(item_field)
    )
