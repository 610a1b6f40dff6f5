"""A copy of a Security Lake as a backtest reads it: its objects by source, day and version.

The lake is a folder or an S3 prefix in Security Lake's own layout; it is only ever read.
Folders of sources lakewatch does not read, and files that are not Security Lake data objects,
are counted and skipped with the reason, never failed on.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from pyarrow import fs

from lakewatch.extract.engine import LakeLocation
from lakewatch.lake.layout import SOURCE_VERSIONS, LakeKey, parse_key
from lakewatch.scoring.process import EVIDENCE_SOURCES, SCORED_SOURCES

LAYOUT = "aws/<SOURCE>/<1.0|2.0>/region=<r>/accountId=<12 digits>/eventDay=<yyyymmdd>/*.parquet"
SCORED = tuple(sorted(SCORED_SOURCES))
EVIDENCE = tuple(sorted(EVIDENCE_SOURCES))
_PARTITIONS = (("region=", r"[a-z0-9-]+"), ("accountId=", r"\d{12}"), ("eventDay=", r"\d{8}"))


class LakeError(ValueError):
    """The lake or the days asked for cannot be backtested: says what was looked for."""


@dataclass(frozen=True)
class LakeObject:
    key: LakeKey
    path: str  # on the location's filesystem
    size: int

    @property
    def uri(self) -> str:
        return self.key.key


@dataclass
class LakeIndex:
    """The lake's day partitions of the sources lakewatch reads (source -> day -> folders),
    found by listing one level at a time: a lake's other sources and its objects are never
    listed whole, only the objects of a day when that day is read (``on``, ``evidence_on``).
    ``skipped``: key or folder -> why, for what was looked at and not read."""

    location: LakeLocation
    root: str
    days_of: dict[str, dict[date, list[str]]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    scored: tuple[str, ...] = SCORED  # and CLOUD_TRAIL_MGMT when the pair set has sign-ins

    def days(self) -> list[date]:
        return sorted({d for s in self.scored for d in self.days_of.get(s, {})})

    def regions(self) -> Counter[str]:
        """Partitions per region, over every source read."""
        return Counter(
            _region_of(folder)
            for days in self.days_of.values()
            for folders in days.values()
            for folder in folders
        )

    def on(self, day: date) -> list[LakeObject]:
        """The day's objects of the scored sources (VPC Flow, Route 53, CloudTrail if read)."""
        return self._objects(self.scored, day)

    def evidence_on(self, day: date) -> list[LakeObject]:
        """The day's Security Hub findings objects."""
        return self._objects(EVIDENCE, day)

    def _objects(self, sources: tuple[str, ...], day: date) -> list[LakeObject]:
        out: list[LakeObject] = []
        for source in sources:
            for folder in self.days_of.get(source, {}).get(day, []):
                for info in _children(self.location, folder):
                    if info.type == fs.FileType.File:
                        self._add(out, info)
        return sorted(out, key=lambda o: o.path)

    def _add(self, out: list[LakeObject], info: fs.FileInfo) -> None:
        rel = _relative(info.path, self.location.root)
        key = parse_key(rel)
        if key is not None:
            out.append(LakeObject(key, info.path, info.size or 0))
        elif not rel.rsplit("/", 1)[-1].startswith("."):
            self.skipped[rel] = "not a Security Lake data object (layout, metadata or manifest)"

    def skipped_by_reason(self) -> dict[str, int]:
        return dict(Counter(self.skipped.values()))


def _relative(path: str, root: str) -> str:
    return path[len(root) :].lstrip("/") if root else path


def _region_of(folder: str) -> str:
    found = re.search(r"/region=([a-z0-9-]+)/", folder + "/")
    return found[1] if found else ""


def _children(location: LakeLocation, folder: str) -> list[fs.FileInfo]:
    try:
        return location.filesystem.get_file_info(
            fs.FileSelector(folder, recursive=False, allow_not_found=True)
        )
    except OSError as err:
        raise LakeError(f"cannot list {folder}: {err}") from None


def _folders(location: LakeLocation, folder: str) -> list[fs.FileInfo]:
    return sorted(
        (i for i in _children(location, folder) if i.type == fs.FileType.Directory),
        key=lambda i: i.path,
    )


def index_lake(
    location: LakeLocation, label: str, scored: frozenset[str] = SCORED_SOURCES
) -> LakeIndex:
    """Find the lake's day partitions of the ``scored`` sources (``scored_sources``: CloudTrail
    too when the pair set has sign-ins) and the evidence; raises ``LakeError`` when it has none
    of the sources lakewatch reads."""
    base = f"{location.root}/aws" if location.root else "aws"
    index = LakeIndex(location, label, scored=tuple(sorted(scored)))
    for source in _folders(location, base):
        name = source.base_name
        if name not in scored and name not in EVIDENCE:
            index.skipped[_relative(source.path, location.root) + "/"] = (
                f"source {name} is not one lakewatch reads"
            )
            continue
        for version in _folders(location, source.path):
            if version.base_name not in SOURCE_VERSIONS:
                index.skipped[_relative(version.path, location.root) + "/"] = (
                    f"unknown source version {version.base_name} (reads 1.0 and 2.0)"
                )
                continue
            for folder in _partitions(index, version.path, 0):
                day = folder.rstrip("/").rsplit("eventDay=", 1)[1]
                when = date(int(day[:4]), int(day[4:6]), int(day[6:]))
                index.days_of.setdefault(name, {}).setdefault(when, []).append(folder)
    if not index.days():
        found = f"; skipped {index.skipped_by_reason()}" if index.skipped else ""
        raise LakeError(
            f"{label} holds no VPC_FLOW or ROUTE53 objects in Security Lake's layout "
            f"(looked for {LAYOUT} under {base}){found}"
        )
    return index


def _partitions(index: LakeIndex, folder: str, level: int) -> list[str]:
    """The ``eventDay=`` folders below ``folder`` (``region=`` then ``accountId=``)."""
    if level == len(_PARTITIONS):
        return [folder]
    prefix, pattern = _PARTITIONS[level]
    out = []
    for child in _folders(index.location, folder):
        if re.fullmatch(re.escape(prefix) + pattern, child.base_name):
            out += _partitions(index, child.path, level + 1)
        else:
            index.skipped[_relative(child.path, index.location.root) + "/"] = (
                f"not a Security Lake partition folder (expected {prefix}...)"
            )
    return out


def parse_days(text: str, what: str) -> list[date]:
    """``FIRST..LAST`` (or one day) of UTC ``YYYY-MM-DD`` days, inclusive."""
    first, sep, last = text.partition("..")
    try:
        start = date.fromisoformat(first.strip())
        end = date.fromisoformat(last.strip()) if sep else start
    except ValueError:
        raise LakeError(
            f"{what} {text!r} is not FIRST..LAST of YYYY-MM-DD days (e.g. 2026-11-01..2026-11-05)"
        ) from None
    if end < start:
        raise LakeError(f"{what} {text!r} ends before it starts")
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def spans(days: list[date]) -> str:
    """Days as runs: ``2026-11-01..2026-11-04, 2026-11-07``."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and day - runs[-1][1] == timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return ", ".join(f"{a}..{b}" if a != b else f"{a}" for a, b in runs)


def check_days(index: LakeIndex, train: list[date], score: list[date]) -> None:
    """Training and scoring never share a day, and every day asked for has objects."""
    shared = sorted(set(train) & set(score))
    if shared:
        raise LakeError(
            f"--train-days and --score-days overlap on {spans(shared)}: a backtest scores "
            "days the model did not train on"
        )
    present = set(index.days())
    for what, days in (("--train-days", train), ("--score-days", score)):
        missing = [d for d in days if d not in present]
        if missing:
            raise LakeError(
                f"{what}: no VPC_FLOW or ROUTE53 objects on {spans(missing)} in {index.root}; "
                f"days present: {spans(sorted(present))}"
            )
