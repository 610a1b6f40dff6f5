"""The scorer's deployment zip, built from the repository deterministically.

The same sources give the same bytes (sorted entries, fixed timestamps and modes), so the zip's
SHA-256 identifies what is deployed: Lambda's ``CodeSha256`` and the local runtime's install
folder both use it. Contents: ``app.py`` (the handler), the ``lakewatch`` modules it imports
(``HANDLER_MODULES``), and the SQL templates the views are defined by
(``lakewatch/extract/sql/``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakewatch.names import scorer_package_key

REPO = Path(__file__).resolve().parents[3]
_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Package:
    body: bytes
    sha256: str  # hex

    @property
    def code_sha256(self) -> str:
        """The form Lambda reports (base64 of the digest)."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()


# What the function holds of lakewatch: the modules the handler imports, and nothing else (no
# training, demo, CLI or synthetic lake). A test checks it against the handler's imports.
HANDLER_MODULES = (
    "aws.clients",
    "aws.eventbridge",
    "aws.endpoint",
    "aws.s3",
    "aws.securityhub",
    "extract.engine",
    "extract.export",
    "extract.rcf_features",
    "extract.signin",
    "extract.views",
    "lake.layout",
    "lake.principals",
    "lake.schemas",
    "lake.sink",
    "lake.views",
    "metrics",
    "model.detector",
    "model.detector_cache",
    "model.encoding",
    "model.files",
    "model.history",
    "names",
    "review.feedback",
    "scoring.caches",
    "scoring.config",
    "scoring.errors",
    "scoring.events",
    "scoring.incidents",
    "scoring.pair_findings",
    "scoring.pairs",
    "scoring.process",
    "scoring.rcf_findings",
    "scoring.rcf_incidents",
    "scoring.rcf_rows",
    "scoring.rcf_scoring",
    "scoring.signin_findings",
    "scoring.storage",
    "settings",
    "threshold.published",
)


def _files(repo: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    app = repo / "include" / "lambda" / "ipcheck"
    files["app.py"] = (app / "app.py").read_bytes()
    package = repo / "plugins" / "lakewatch"
    for module in ("__init__", *HANDLER_MODULES):
        parts = module.split(".")
        for depth in range(1, len(parts)):  # the subpackages' __init__.py
            init = Path(*parts[:depth], "__init__.py")
            files[f"lakewatch/{init.as_posix()}"] = (package / init).read_bytes()
        path = Path(*parts).with_suffix(".py")
        files[f"lakewatch/{path.as_posix()}"] = (package / path).read_bytes()
    sql = repo / "include" / "sql"
    for path in sql.rglob("*.sql"):
        files[f"lakewatch/extract/sql/{path.relative_to(sql).as_posix()}"] = path.read_bytes()
    return files


def deterministic_zip(entries: Iterable[tuple[str, bytes, int]]) -> bytes:
    """(name, body, mode) entries, in the order given, as a zip that depends on nothing else:
    every entry dated 1980-01-01, its mode fixed, deflated."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body, mode in entries:
            info = zipfile.ZipInfo(name, date_time=_DATE)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, body)
    return buf.getvalue()


def build(repo: Path = REPO) -> Package:
    body = deterministic_zip((name, data, 0o644) for name, data in sorted(_files(repo).items()))
    return Package(body, hashlib.sha256(body).hexdigest())


def stage(store: Any, package: Package) -> str:
    """Put ``package`` where its deploy reads it; returns the key."""
    key = scorer_package_key(package.sha256)
    store.put(key, package.body)
    return key


def fetch(store: Any, key: str, sha256: str) -> Package:
    """The staged package, refused when it is not the one that was built."""
    body = store.get(key)
    if hashlib.sha256(body).hexdigest() != sha256:
        raise ValueError(f"package {key} does not match its recorded hash {sha256[:16]}")
    return Package(body, sha256)


def unzipped_size(body: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        return sum(info.file_size for info in zf.infolist())
