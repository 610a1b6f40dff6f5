"""The training days' extracts, by the project's own SQL on DuckDB, as ``lakewatch_extract``
publishes them: one manifest per day over its train and validation parts.

A lake copy may hold several regions and both source versions; each (version, region) of a
day is one query (the templates are per Glue table, as on Athena) and the day's manifest lists
every query's parts. An object that cannot be read is set aside with the reason before the
query, so one corrupt object never fails a day.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
from pyarrow import fs

from lakewatch.backtest.lake import LakeObject
from lakewatch.extract.engine import DuckAthena, LakeLocation
from lakewatch.extract.export import ExtractSummary, PairSet, day_prefix, publish
from lakewatch.extract.views import QueryContext
from lakewatch.lake.layout import Source
from lakewatch.lake.sink import ObjectStore
from lakewatch.scoring.errors import PoisonMessage
from lakewatch.scoring.pairs import check_object
from lakewatch.settings import Settings


def read_object(location: LakeLocation, obj: LakeObject) -> bytes:
    with location.filesystem.open_input_stream(obj.path) as src:
        return src.read()


class _Files:
    """A ``LakeLocation`` stand-in for ``DuckAthena``: exactly these files, by source."""

    def __init__(self, files: dict[Source, list[str]]):
        self.files = files

    def local_files(
        self, source: Source, version: str, region: str, days: list[str], cache: Path
    ) -> list[str]:
        return self.files.get(source, [])


def _local_copy(location: LakeLocation, obj: LakeObject, cache: Path) -> str:
    """The object as a file DuckDB reads: a folder lake's own, or an S3 object copied under
    ``cache`` at its key (the partition folders kept, which 1.0 tables read as columns)."""
    if isinstance(location.filesystem, fs.LocalFileSystem):
        return obj.path
    local = cache / obj.key.key
    local.parent.mkdir(parents=True, exist_ok=True)
    with location.filesystem.open_input_stream(obj.path) as src, local.open("wb") as dst:
        shutil.copyfileobj(src, dst, 8 * 1024 * 1024)
    return str(local)


def _readable(
    location: LakeLocation,
    objects: list[LakeObject],
    bad: dict[str, str],
    every_page: bool,
    rows: list[int] | None = None,
) -> list[LakeObject]:
    """The objects the views can read (their records added to ``rows``); the others go to
    ``bad`` (key -> why)."""
    out = []
    for obj in objects:
        try:
            n = check_object(read_object(location, obj), obj.key, every_page=every_page)
        except (PoisonMessage, OSError) as err:
            bad[obj.uri] = str(err)
            continue
        if rows is not None:
            rows.append(n)
        out.append(obj)
    return out


def _query(
    ctx: QueryContext,
    objects: list[LakeObject],
    location: LakeLocation,
    store: ObjectStore,
    prefix: str,
    attempt: str,
    cache: Path,
) -> ExtractSummary:
    files: dict[Source, list[str]] = defaultdict(list)
    for obj in objects:
        files[Source(obj.key.source)].append(_local_copy(location, obj, cache))
    summary = ExtractSummary(ctx.start.date().isoformat(), "", ctx.source_version)
    DuckAthena(location=_Files(dict(files))).extract(ctx, store, prefix, attempt, summary)  # type: ignore[arg-type]
    return summary


def merge(
    day: date, pair_set: PairSet, source_version: str, parts: list[ExtractSummary]
) -> ExtractSummary:
    """One day's manifest over several queries' parts (filed under ``source_version``, the
    extracts' prefix the training plan reads)."""
    out = ExtractSummary(day.isoformat(), pair_set.key, source_version)
    out.engine = "duckdb"
    for part in parts:
        out.rows += part.rows
        out.entities += part.entities
        for view, statuses in part.by_view.items():
            mine = out.by_view.setdefault(view, {})
            for status, n in statuses.items():
                mine[status] = mine.get(status, 0) + n
        for reason, n in part.dropped.items():
            out.dropped[reason] = out.dropped.get(reason, 0) + n
        for split, n in part.split_rows.items():
            out.split_rows[split] = out.split_rows.get(split, 0) + n
        for split, keys in part.parts.items():
            out.parts.setdefault(split, []).extend(keys)
        out.queries += part.queries
    out.attempt = "+".join(p.attempt for p in parts)
    return out


def extract_day(
    settings: Settings,
    store: ObjectStore,
    location: LakeLocation,
    objects: list[LakeObject],
    day: date,
    pair_set: PairSet,
    bad: dict[str, str],
    rows: list[int],
) -> ExtractSummary:
    """Extract and publish one day (its objects' records added to ``rows``); returns its
    manifest."""
    start = datetime.combine(day, datetime.min.time(), UTC)
    groups: dict[tuple[str, str], list[LakeObject]] = defaultdict(list)
    for obj in _readable(location, objects, bad, every_page=False, rows=rows):
        groups[(obj.key.version, obj.key.region)].append(obj)
    prefix = day_prefix(settings.extracts_prefix, settings.source_version, pair_set, day)
    parts = []
    with tempfile.TemporaryDirectory(prefix="lakewatch-backtest-") as cache:
        for (version, region), objects in sorted(groups.items()):
            ctx = QueryContext(
                region=region,
                source_version=version,
                start=start,
                end=start + timedelta(days=1),
                views=pair_set.views,
                keep=pair_set.keep,
            )
            attempt = f"backtest-{version.replace('.', '')}-{region}"
            try:
                parts.append(_query(ctx, objects, location, store, prefix, attempt, Path(cache)))
            except (duckdb.Error, OSError):  # a page deep in some object: find it, go on
                objects = _readable(location, objects, bad, every_page=True)
                try:
                    parts.append(
                        _query(ctx, objects, location, store, prefix, attempt, Path(cache))
                    )
                except (duckdb.Error, OSError) as err:  # objects that disagree with each other
                    for obj in objects:
                        bad[obj.uri] = f"{obj.uri}: the day's query failed on it: {err}"
    summary = merge(day, pair_set, settings.source_version, parts)
    publish(store, prefix, summary)
    return summary
