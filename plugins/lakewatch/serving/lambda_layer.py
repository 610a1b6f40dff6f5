"""The scorer's dependency layer: the handler's requirements as Lambda's runtime loads them.

``include/lambda/ipcheck/requirements.txt`` names what the handler imports; their versions and
dependencies come from the project's lock (``requirements.txt``), so the function runs what the
tests ran. The packages Lambda's Python runtime already holds (boto3 and its dependencies) are
left out. Wheels only, for the runtime's platform (Amazon Linux 2023: glibc 2.34, x86_64 or
arm64) and Python, installed without byte-code; what a running scorer never loads (tests,
headers, Cython sources, Arrow Flight) is pruned and shared libraries stripped of
their symbol tables, so the layer fits under Lambda's 250 MB (function and layers unzipped
together). The zip is sorted, dated 1980-01-01 and free of anything host-specific: the same
inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from lakewatch.serving.lambda_package import deterministic_zip

REPO = Path(__file__).resolve().parents[3]
REQUIREMENTS = REPO / "include" / "lambda" / "ipcheck" / "requirements.txt"
LOCK = REPO / "requirements.txt"

LAMBDA_PYTHON = "3.12"  # Amazon Linux 2023: the lock's wheels need glibc >= 2.28
LAMBDA_RUNTIME = f"python{LAMBDA_PYTHON}"
GLIBC = (2, 34)
UNZIPPED_LIMIT = 262_144_000  # Lambda: the function and all its layers, unzipped
# What Lambda's Python runtime already provides (its own boto3, kept current by AWS).
PROVIDED = frozenset(
    canonicalize_name(n)
    for n in ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
)
# Never loaded by the scorer: tests, C headers, Cython sources, Arrow Flight (no library
# links it; Substrait, which pyarrow.lib links, stays).
PRUNE = (
    re.compile(r"(^|/)(tests?|testing)/"),
    re.compile(r"(^|/)__pycache__/"),
    re.compile(r"^pyarrow/(include|src)/"),
    re.compile(r"\.(pyx|pxd|pxi|h|hpp|c|cc|cpp)$"),
    re.compile(r"^pyarrow/(libarrow_flight\.so|_flight\.|flight\.py)"),
)
# Arrow's own libraries ship with their symbol tables (about 20 MB); stripping them is safe.
# Libraries a wheel's repair tool patched (numpy's, the extension modules) must not be
# stripped: their rewritten program headers no longer load ("not page-aligned").
STRIP = re.compile(r"^pyarrow/lib(arrow|parquet)[a-z_]*\.so[.\d]*$")


class LayerTooLarge(ValueError):
    """The layer (with the function) would not fit Lambda's unzipped limit."""


@dataclass
class Layer:
    body: bytes
    sha256: str
    unzipped_bytes: int
    packages: dict[str, str]  # name -> version
    python: str
    platforms: list[str] = field(default_factory=list)


def lock_versions(lock: Path = LOCK) -> dict[str, str]:
    """``name==version`` pins of the project's lock, by canonical name."""
    pins: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins[canonicalize_name(name.split("[")[0])] = version.split(";")[0].strip()
    return pins


def closure(
    requirements: Path = REQUIREMENTS, lock: Path = LOCK, python: str = LAMBDA_PYTHON
) -> dict[str, str]:
    """Every package the handler's requirements need (extras and markers evaluated for
    ``python`` on Linux), pinned by the lock, minus what Lambda's runtime provides."""
    pins = lock_versions(lock)
    env: dict[str, str] = {
        **{k: str(v) for k, v in default_environment().items()},
        "python_version": python,
        "sys_platform": "linux",
        "platform_system": "Linux",
    }
    todo = [Requirement(r) for r in _lines(requirements)]
    out: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in PROVIDED or (name, frozenset(req.extras)) in seen:
            continue
        seen.add((name, frozenset(req.extras)))
        if name not in pins:
            raise ValueError(f"{req.name} (needed by the scorer) is not pinned in {lock.name}")
        out[name] = pins[name]
        for dep in metadata.requires(req.name) or []:
            child = Requirement(dep)
            wanted = child.marker is None or any(
                child.marker.evaluate({**env, "extra": extra}) for extra in ("", *req.extras)
            )
            if wanted:
                todo.append(Requirement(f"{child.name}{_extras(child)}"))
    return dict(sorted(out.items()))


def _extras(req: Requirement) -> str:
    return f"[{','.join(sorted(req.extras))}]" if req.extras else ""


def _lines(path: Path) -> list[str]:
    return [
        ln.split("#", 1)[0].strip()
        for ln in path.read_text().splitlines()
        if ln.split("#", 1)[0].strip()
    ]


def platforms(arch: str = "x86_64", glibc: tuple[int, int] = GLIBC) -> list[str]:
    """The wheel platform tags a runtime with ``glibc`` accepts, newest first (pip takes
    them literally)."""
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(glibc[1], 16, -1)]
    return [*tags, f"manylinux2014_{arch}"]


def pruned(path: str) -> bool:
    return any(p.search(path) for p in PRUNE)


def install(packages: dict[str, str], target: Path, python: str, arch: str) -> list[str]:
    """pip-install the pinned wheels into ``target`` for the runtime's platform; returns
    the platform tags used."""
    tags = platforms(arch)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-compile",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python,
        "--target",
        str(target),
    ]
    for tag in tags:
        cmd += ["--platform", tag]
    cmd += [f"{name}=={version}" for name, version in packages.items()]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if "is ignored" not in ln]
        raise RuntimeError("pip could not fetch the scorer's wheels:\n" + "\n".join(lines[-15:]))
    return tags


def _strip(path: Path) -> bytes:
    """A shared library without its symbol table (what ``pip`` wheels rarely strip)."""
    strip = shutil.which("strip")
    if strip is None:
        return path.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / path.name
        done = subprocess.run(
            [strip, "--strip-unneeded", "-o", str(out), str(path)], capture_output=True, check=False
        )
        return out.read_bytes() if done.returncode == 0 else path.read_bytes()


def zip_tree(root: Path, prefix: str = "python/") -> tuple[bytes, int]:
    """The tree under ``root`` as a deterministic zip (sorted, fixed date and modes), its
    pruned files left out and shared libraries stripped; returns (zip, unzipped bytes)."""
    size = 0

    def entries() -> Iterator[tuple[str, bytes, int]]:
        nonlocal size
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root).as_posix()
            if pruned(rel):
                continue
            body = _strip(path) if STRIP.search(rel) else path.read_bytes()
            size += len(body)
            yield prefix + rel, body, 0o755 if rel.endswith(".so") or ".so." in rel else 0o644

    return deterministic_zip(entries()), size


def check_fits(layer_bytes: int, function_bytes: int, limit: int = UNZIPPED_LIMIT) -> None:
    """Refuse a layer that would not fit beside the function under Lambda's limit."""
    if layer_bytes + function_bytes > limit:
        raise LayerTooLarge(
            f"the scorer's layer is {layer_bytes / 2**20:.1f} MiB unzipped and the function "
            f"{function_bytes / 2**20:.1f} MiB: over Lambda's {limit / 2**20:.0f} MiB"
        )


def build_layer(
    python: str = LAMBDA_PYTHON,
    arch: str = "x86_64",
    function_bytes: int = 0,
    limit: int = UNZIPPED_LIMIT,
) -> Layer:
    """The layer for Lambda's ``python`` runtime on ``arch``; refuses one that would not fit
    beside a function of ``function_bytes`` (unzipped)."""
    packages = closure(python=python)
    with tempfile.TemporaryDirectory(prefix="lakewatch-layer-") as tmp:
        target = Path(tmp) / "python"
        tags = install(packages, target, python, arch)
        body, size = zip_tree(target)
    check_fits(size, function_bytes, limit)
    return Layer(body, hashlib.sha256(body).hexdigest(), size, packages, python, tags)
