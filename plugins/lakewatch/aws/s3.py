"""Small S3 helpers: URIs, listing, and writes that never leave a half-written final key."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str = ""

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"not an s3:// URI: {uri!r}")
        return cls(parsed.netloc, parsed.path.lstrip("/"))

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def join(self, *parts: str) -> S3Uri:
        key = "/".join(p.strip("/") for p in (self.key, *parts) if p.strip("/"))
        return S3Uri(self.bucket, key)


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def list_keys(s3: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Every object under a prefix (``Key``, ``Size``, ``ETag``...), following pagination."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def put_atomic(s3: Any, bucket: str, key: str, body: bytes | Path, **extra: Any) -> dict[str, Any]:
    """Write ``key`` in one request: readers see the old object or the whole new one.

    ``body`` is the bytes, or a file streamed from disk (a day's extract need not be held in
    memory). A single PutObject is atomic in S3; large bodies go through a temporary key and a
    server-side copy, so a failed multi-part upload never leaves a partial object at ``key``.
    """
    size = body.stat().st_size if isinstance(body, Path) else len(body)
    if size <= 64 * 1024 * 1024:
        if isinstance(body, Path):
            with body.open("rb") as f:
                return s3.put_object(Bucket=bucket, Key=key, Body=f, **extra)
        return s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
    tmp = f"{key}.tmp-{uuid.uuid4().hex}"
    try:
        if isinstance(body, Path):
            s3.upload_file(str(body), bucket, tmp)
        else:
            s3.upload_fileobj(io.BytesIO(body), bucket, tmp)
        return s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": tmp})
    finally:
        s3.delete_object(Bucket=bucket, Key=tmp)


def delete_prefix(s3: Any, bucket: str, prefix: str) -> int:
    """Delete every object under ``prefix``; returns how many."""
    keys = [{"Key": o["Key"]} for o in list_keys(s3, bucket, prefix)]
    for i in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[i : i + 1000], "Quiet": True})
    return len(keys)
