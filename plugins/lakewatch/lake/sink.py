"""Where a lake is written or read: an S3 bucket (AWS or the emulator) or a local folder."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from lakewatch.aws.clients import ClientFactory
from lakewatch.aws.s3 import S3Uri, list_keys, put_atomic


class ObjectStore(Protocol):
    """The few object operations lakewatch needs, the same for S3 and a folder."""

    def put(self, key: str, body: bytes) -> dict[str, Any]: ...
    def put_file(self, key: str, path: Path) -> None: ...
    def get(self, key: str) -> bytes: ...
    def list(self, prefix: str = "") -> Iterator[str]: ...
    def uri(self, key: str = "") -> str: ...
    def delete(self, keys: Sequence[str]) -> None: ...


class S3Store:
    def __init__(self, s3: Any, bucket: str, prefix: str = ""):
        self.s3, self.bucket = s3, bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""

    def put(self, key: str, body: bytes) -> dict[str, Any]:
        resp = put_atomic(self.s3, self.bucket, self.prefix + key, body)
        return {"size": len(body), "etag": resp.get("ETag", "").strip('"')}

    def put_file(self, key: str, path: Path) -> None:
        """``put`` of a file's contents, streamed: large outputs never sit in memory."""
        put_atomic(self.s3, self.bucket, self.prefix + key, path)

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()

    def list(self, prefix: str = "") -> Iterator[str]:
        for obj in list_keys(self.s3, self.bucket, self.prefix + prefix):
            yield obj["Key"][len(self.prefix) :]

    def uri(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def folders(self, prefix: str) -> Iterator[str]:
        """The "sub-folders" of ``prefix`` (keys relative to the store, ending in ``/``)."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix, Delimiter="/"
        )
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                yield common["Prefix"][len(self.prefix) :]

    def delete(self, keys: Sequence[str]) -> None:
        for i in range(0, len(keys), 1000):
            objects = [{"Key": self.prefix + k} for k in keys[i : i + 1000]]
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})


class LocalStore:
    """A folder laid out like the bucket; writes go to a temporary file, then rename."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def put(self, key: str, body: bytes) -> dict[str, Any]:
        self._replace(key, lambda tmp: tmp.write_bytes(body))
        return {"size": len(body), "etag": hashlib.md5(body, usedforsecurity=False).hexdigest()}

    def put_file(self, key: str, path: Path) -> None:
        """``put`` of a file's contents, copied without reading it into memory."""
        self._replace(key, lambda tmp: shutil.copyfile(path, tmp))

    def _replace(self, key: str, write: Callable[[Path], object]) -> None:
        """``write`` a temporary file beside the key, then rename it into place: readers see
        the old file or the whole new one, never a half-written one."""
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        os.close(fd)
        tmp = Path(name)
        try:
            write(tmp)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self.root
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".tmp-"):
                rel = path.relative_to(base).as_posix()
                if rel.startswith(prefix):
                    yield rel

    def uri(self, key: str = "") -> str:
        return str(self.root / key)

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            (self.root / key).unlink(missing_ok=True)


def open_store(out: str, clients: ClientFactory | None = None) -> ObjectStore:
    """``s3://bucket[/prefix]`` (needs a client factory) or a local folder."""
    if out.startswith("s3://"):
        if clients is None:
            raise ValueError("an s3:// location needs AWS clients")
        uri = S3Uri.parse(out)
        return S3Store(clients("s3"), uri.bucket, uri.key)
    if "://" in out:
        raise ValueError(f"unsupported location {out!r}: use s3://bucket[/prefix] or a folder")
    return LocalStore(out)


def day_partition_keys(store: ObjectStore, prefix: str, day: date) -> list[str]:
    """The keys of ``day`` under ``prefix`` laid out ``region=/accountId=/eventDay=/`` (Security
    Lake's layout, and the findings'), every region and account. On S3 the region and account
    folders are listed with a delimiter and then only the day's partitions: a prefix keeps years
    of days, and the review page asks on every request. A folder is listed once and filtered."""
    part = f"eventDay={day:%Y%m%d}/"
    if not isinstance(store, S3Store):
        return sorted(k for k in store.list(prefix) if part in k)
    folders = [prefix]
    for _ in ("region=", "accountId="):
        folders = [child for folder in folders for child in store.folders(folder)]
    return sorted(k for folder in folders for k in store.list(folder + part))
