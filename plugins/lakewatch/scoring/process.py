"""Score the objects a notification names: read, extract pairs, score, write findings.

Transient failures (the object not there yet, S3 or the endpoint failing, no threshold
published) raise ``TransientError`` so the message is retried; failures no retry can fix raise
``PoisonMessage``.

The scorer reads only what it subscribed to (``subscribed_key``): objects of the configured
Security Lake bucket under the sources lakewatch reads (``READ_SOURCES``), and the canary's
under ``canary/`` in the results bucket. Any other bucket or key is poison, never fetched, and
so is an ``AccessDenied`` on a key it may read (a role or key policy no retry will change).

With ``ScorerConfig.security_hub_findings``, an object's findings are imported into Security
Hub once they are stored in the results bucket (``aws.securityhub``): an import that still fails
after its retries is counted in the object's result (``not_imported``) and logged, never
raised, so it never sends the message back to the queue or to the DLQ; a re-delivery imports
the same finding ids again.

CloudTrail objects are scored when the scorer's pair set (``ScorerConfig.pairs``, the served
model's) includes the ``signin`` view, and skipped, as before, when it does not: their pairs
are principals and addresses, and their findings are ``scoring.signin_findings``'s ("Sign-in
from an unusual address"), not the network views' pairs and incidents. With
``ScorerConfig.step_up_event_bus``, each anomalous sign-in is also put on that EventBridge bus
as a step-up event, after the findings are stored and imported: a put that still fails after
its retries (``aws.eventbridge``) is counted (``step_up_not_sent``) and logged, never raised,
like a Security Hub import.

With ``ScorerConfig.rcf_endpoint_name``, a VPC Flow object's whole instance-hours are also
scored by the Random Cut Forest (``scoring.rcf_scoring``) and its findings of kind ``rcf``
stored, imported and alerted with the object's others (``ObjectResult.rcf_*`` count them),
each joined into its instance-hour's incident or opening one (``scoring.rcf_incidents``);
canary objects are not.
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from botocore.exceptions import BotoCoreError, ClientError

from lakewatch.aws import eventbridge, securityhub
from lakewatch.aws.clients import ClientFactory
from lakewatch.aws.endpoint import EndpointError, invoke_pairs
from lakewatch.extract.export import PairSet
from lakewatch.extract.views import View
from lakewatch.lake.layout import SOURCE_VERSIONS, LakeKey, Source, parse_key
from lakewatch.model.detector import Detector
from lakewatch.model.detector_cache import DetectorCache
from lakewatch.model.encoding import ipv4_values
from lakewatch.names import alert_marker_key, canary_findings_prefix
from lakewatch.review.feedback import Suppression
from lakewatch.scoring.caches import EntityRates, SuppressionCache, ThresholdCache
from lakewatch.scoring.config import ScorerConfig
from lakewatch.scoring.errors import PoisonMessage, TransientError, shorten_reason
from lakewatch.scoring.events import ObjectRef, parse
from lakewatch.scoring.incidents import (
    SCAN_MIN_INSTANCES,
    Ends,
    answered,
    connections,
    flagged_pairs,
    incident_finding,
    member_findings,
    other_end_findings,
)
from lakewatch.scoring.incidents import group as incidents_of
from lakewatch.scoring.pair_findings import WINDOW_MS, ScoredPair, alert_message, findings_for
from lakewatch.scoring.pairs import ObjectBody, ObjectPairs, object_pairs
from lakewatch.scoring.rcf_incidents import join_rcf
from lakewatch.scoring.rcf_scoring import EndpointRcf, RcfObjectScorer
from lakewatch.scoring.signin_findings import (
    detector_history,
    is_unusual_signin,
    signin_findings,
    step_up_entry,
)
from lakewatch.scoring.storage import findings_key, to_parquet
from lakewatch.threshold.published import PublishedThreshold

log = logging.getLogger(__name__)

# The sources lakewatch's Security Lake subscriber subscribes to, so the only ones its queue
# carries: those the scorer scores (the network views' sources), CloudTrail, scored when the
# pair set has the signin view, and Security Hub's findings, which the review reads as
# evidence and the scorer skips.
SCORED_SOURCES = frozenset({Source.VPC_FLOW.value, Source.ROUTE53.value})
EVIDENCE_SOURCES = frozenset({Source.SH_FINDINGS.value})
# on the subscriber's queue, and scored only by a scorer whose pair set has the signin view
UNSCORED_SOURCES = frozenset({Source.CLOUD_TRAIL_MGMT.value})
READ_SOURCES = SCORED_SOURCES | EVIDENCE_SOURCES | UNSCORED_SOURCES
# the source folder of any key under aws/, data object or not (Iceberg metadata, manifests)
_SOURCE_FOLDER = re.compile(r"^aws/(?P<source>[A-Z0-9_]+)/")


def scored_sources(pairs: str) -> frozenset[str]:
    """The sources a scorer of pair set ``pairs`` (``PairSet.key``) scores: the network
    views' always, CloudTrail when the set has the signin view."""
    views = PairSet.from_key(pairs).views
    return SCORED_SOURCES | (UNSCORED_SOURCES if View.SIGNIN in views else frozenset())


@dataclass
class ObjectResult:
    bucket: str
    key: str
    skipped: str = ""
    rows: int = 0
    candidates: int = 0
    pairs: int = 0
    anomalies: int = 0
    unknown: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    findings: str = ""
    alerts: int = 0
    incidents: int = 0
    suppressed: int = 0
    imported: int = 0  # findings imported into Security Hub
    not_imported: int = 0  # findings Security Hub did not take after the retries (stored)
    import_error: str = ""  # why, for the first of them
    step_up_sent: int = 0  # unusual sign-ins put on the step-up bus
    step_up_not_sent: int = 0  # ... that EventBridge did not take after the retries
    step_up_error: str = ""  # why, for the first of them
    rcf_hours: int = 0  # the object's instance-hours (with an RCF endpoint configured)
    rcf_scored: int = 0  # ... that it spans whole, so scored
    rcf_findings: int = 0  # ... above the RCF threshold


def shifted(values: np.ndarray, views: list[str], offsets: dict[str, float]) -> np.ndarray:
    """Scores moved by their view's offset from the pooled threshold (per-view thresholds,
    when the recalibration adopted them): a pair is then flagged exactly when it is under its
    view's own threshold, whatever compares it downstream."""
    if not offsets:
        return values
    inbound = np.array([v == View.INGRESS_PEER for v in views])
    signin = np.array([v == View.SIGNIN for v in views])
    network = np.where(inbound, offsets.get("inbound", 0.0), offsets.get("outbound", 0.0))
    # a sign-in is no network peer: only a signin offset of its own moves it
    return values - np.where(signin, offsets.get("signin", 0.0), network)


@dataclass
class ScoredObject:
    """An object's findings and the threshold record they were found against."""

    findings: list[dict[str, Any]]
    threshold: PublishedThreshold | None


SCORE_CHUNK = 65_536  # pairs scored at a time: their text as Python strings only meanwhile


class MemoryBudget:
    """The peak memory one object may take (``ScorerConfig.memory_budget_mb``; 0: none).

    ``check`` compares the process's resident memory with it between bounded steps (a
    record batch read, a chunk of pairs scored), so an object that cannot fit fails with a
    reason naming it, its rows and the budget, before the function runs out of memory (which
    would fail every retry and leave no reason). The failure is retried, not poison: resident
    memory includes what earlier objects left in a warm function's allocators, so a fresh
    function may well fit it; the queue's last receive dead-letters it with this reason."""

    def __init__(self, budget_mb: int, uri: str, rows: int = 0):
        self.budget_mb, self.uri, self.rows = budget_mb, uri, rows

    def check(self, step: str) -> None:
        if not self.budget_mb:
            return
        rss = resident_mb()
        if rss > self.budget_mb:
            raise TransientError(
                f"{self.uri} ({self.rows:,} rows) needs more memory than the scorer's budget "
                f"of {self.budget_mb:,} MB (LAKEWATCH_MEMORY_BUDGET_MB): {rss:,.0f} MB resident "
                f"while {step}; give the function more memory or split the object"
            )


def resident_mb() -> float:
    """The process's resident memory now (MB)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):  # not Linux: the peak is an upper bound
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def suppressed(table: pa.Table, silenced: list[Suppression]) -> np.ndarray:
    """Which of the scored pairs an analyst's suppression silences (``Suppression.covers``),
    asked only of the pairs of the suppressions' entities."""
    entities = pa.array(sorted({e for s in silenced for e in (s.entity, f"{s.entity}/in")}))
    out = np.zeros(table.num_rows, bool)
    (rows,) = np.nonzero(pc.is_in(table["entity"], entities).to_numpy(zero_copy_only=False))
    if len(rows):
        some = table.take(pa.array(rows)).select(["entity", "ip", "view"])
        out[rows] = [
            any(s.covers(e, ip, v) for s in silenced)
            for e, ip, v in zip(
                some["entity"].to_pylist(),
                some["ip"].to_pylist(),
                some["view"].to_pylist(),
                strict=True,
            )
        ]
    return out


def stand_ins_for(kept: pa.Table, detector: Detector | None) -> np.ndarray | None:
    """Each pair's stand-in row (``Detector.stand_ins``), found over the whole object so a
    new entity's group comes from all its pairs here (as Arrow columns: no Python strings);
    None when no pair needs one."""
    if detector is None or kept.num_rows == 0:
        return None
    rows = detector.stand_ins(kept["entity"].combine_chunks(), kept["ip"].combine_chunks())
    return rows if (rows >= 0).any() else None


def all_pairs(table: pa.Table) -> list[ScoredPair]:
    """Every scored pair of ``table`` (``needed_pairs``'s columns) as a ``ScoredPair``: the
    scorer's way before ``needed_pairs``, which the tests hold it to."""
    # Python values once per column (a numpy scalar a field costs a 1M-row object seconds)
    return [
        ScoredPair(e, ip, view, None if s != s else s, k, n, first, last)
        for e, ip, view, s, k, n, first, last in zip(
            table["entity"].to_pylist(),
            table["ip"].to_pylist(),
            table["view"].to_pylist(),
            table["score"].to_pylist(),
            table["known_entity"].to_pylist(),
            table["event_time_count"].to_pylist(),
            table["event_time_min"].to_pylist(),
            table["event_time_max"].to_pylist(),
            strict=True,
        )
    ]


def _dictionary(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Each value's index among the column's distinct values, and those values (encoded a
    chunk at a time, not a copy of the whole column; a dictionary column as it is)."""
    chunked = column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])
    if not pa.types.is_dictionary(chunked.type):
        chunked = pc.dictionary_encode(chunked)
    encoded = chunked.unify_dictionaries()
    if not encoded.num_chunks:
        return np.zeros(0, np.int64), pa.array([], pa.string())
    indices = [
        np.asarray(c.indices.to_numpy(zero_copy_only=False), np.int64) for c in encoded.chunks
    ]
    return np.concatenate(indices), encoded.chunk(0).dictionary


def _codes(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Each value's index among the column's distinct values."""
    return _dictionary(column)[0]


def _ip_codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, int]:
    """One integer per distinct address text and how many there can be: an IPv4 address its
    32-bit value (``ipv4_values``), any other text ``2**32`` plus its index among those others.
    Parsed a chunk at a time, so a few million distinct addresses need no dictionary of them
    all."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    codes = np.zeros(len(column), np.int64)
    others: list[pa.Array] = []
    at = 0
    for chunk in chunks:
        is_v4, values = ipv4_values(chunk)
        codes[at : at + len(chunk)] = np.where(is_v4, values.astype(np.int64), -1)
        others.append(chunk.filter(pa.array(~is_v4)))
        at += len(chunk)
    rest = np.nonzero(codes < 0)[0]
    if not len(rest):
        return codes, 1 << 32
    encoded = pc.dictionary_encode(pa.concat_arrays(others))
    codes[rest] = (1 << 32) + np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.int64)
    return codes, (1 << 32) + len(encoded.dictionary)


def _within(values: np.ndarray, among: np.ndarray) -> np.ndarray:
    """``np.isin`` by binary search in the few ``among``: it sorts ``values`` and ``among``
    together, a few times the memory of a few million ``values``."""
    among = np.unique(among)
    if not len(among):
        return np.zeros(len(values), bool)
    at = np.searchsorted(among, values)
    np.minimum(at, len(among) - 1, out=at)
    return among[at] == values


def _bool(array: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), bool)


def needed_pairs(
    table: pa.Table,
    own_addresses: Mapping[str, set[str]],
    threshold: PublishedThreshold,
    entity_rates: Mapping[str, float],
) -> tuple[list[ScoredPair], dict[tuple[str, int], float]]:
    """The scored pairs (``table``: entity, ip, view, event_time_count/min/max, score with nan
    for none, known_entity) that a finding or an incident can involve, as ``ScoredPair``s in
    the table's order, and the normal tail the incidents weigh each entity's hour against
    (``incidents.group``'s ``tail``: counted over every pair). ``object_findings`` finds on
    them exactly what it finds on every pair (``all_pairs``); the chosen are

    - the pairs of entities the model does not know, and those under the wider of the
      threshold and the loose threshold (pair findings, scans, connections, entity incidents);
    - every inbound pair of an address under it with three or more instances (an inbound
      sweep takes every instance it reached, whatever each scored);
    - the pairs with the account's own addresses (the other ends of flagged connections
      between instances, whatever they scored);
    - the outbound call each chosen inbound pair may answer (``answered`` leaves an answer out,
      or gives it its call's verdict).
    """
    t = threshold.threshold
    loose = threshold.loose_threshold
    wide = t if loose is None else max(loose, t)
    score = np.asarray(table["score"].to_numpy(), np.float64)
    valid = ~np.isnan(score)
    known = _bool(table["known_entity"])
    egress = _bool(pc.equal(table["view"], str(View.EGRESS_PEER)))
    ingress = _bool(pc.equal(table["view"], str(View.INGRESS_PEER)))
    with np.errstate(invalid="ignore"):
        under_t = valid & (score < t)
        under_wide = valid & (score < wide)
    ip, n_ips = _ip_codes(table["ip"])
    entity, names = _dictionary(table["entity"])
    # one integer per (instance, address): an inbound pair and the outbound call it answers
    # (the instance's name without "/in" taken of the few distinct names, not of every pair)
    instance = _codes(pc.replace_substring_regex(names, r"/in$", ""))
    link = instance[entity] * n_ips + ip
    counted = known & valid & ~(ingress & _within(link, link[egress]))  # what ``group`` counts
    tail = _table_tail(table, entity, threshold, entity_rates, counted, counted & under_t)
    chosen = ~known | under_wide
    # inbound sweeps: every inbound pair of an address under ``wide`` with 3+ instances
    addresses, instances = np.unique(
        np.unique(link[counted & under_wide]) % n_ips, return_counts=True
    )
    sweeps = addresses[instances >= SCAN_MIN_INSTANCES]
    if len(sweeps):
        chosen |= ingress & _within(ip, sweeps)
    mine = sorted({a for addresses in own_addresses.values() for a in addresses})
    if mine:
        chosen |= _bool(pc.is_in(table["ip"], pa.array(mine, pa.string())))
    chosen |= egress & _within(link, link[chosen & ingress])
    rows = np.nonzero(chosen)[0]
    return all_pairs(table.take(pa.array(rows))), tail


def _table_tail(
    table: pa.Table,
    entity: np.ndarray,
    threshold: PublishedThreshold,
    entity_rates: Mapping[str, float],
    counted: np.ndarray,
    wanted: np.ndarray,
) -> dict[tuple[str, int], float]:
    """The expected number of pairs under the threshold in each (entity, hour) that has one
    (``wanted``), over the hour's ``counted`` pairs: computed on the whole table, because the
    chosen pairs alone would undercount the hours the incidents weigh."""
    tail: dict[tuple[str, int], float] = defaultdict(float)
    if threshold.target_fpr is None:  # the tail only matters given the rate
        return tail
    # in place where it can be: a few million pairs' arrays are the scorer's peak here
    window = np.array(table["event_time_min"].to_numpy(), np.int64)
    window //= WINDOW_MS
    hour = entity * (int(window.max(initial=0)) + 1)
    hour += window
    hours, first = np.unique(hour[wanted], return_index=True)
    every = hour[counted]
    del hour
    every.sort()
    sizes = np.searchsorted(every, hours, side="right") - np.searchsorted(every, hours)
    at = np.nonzero(wanted)[0][first]
    names = table["entity"].take(pa.array(at)).to_pylist()
    for name, w, size in zip(names, window[at].tolist(), sizes.tolist(), strict=True):
        rate = entity_rates.get(name, threshold.target_fpr or 0.0)
        lam = 0.0
        for _ in range(size):  # summed pair by pair, as ``group`` sums it
            lam += rate
        tail[(name, w)] = lam
    return tail


def object_findings(
    pairs: list[ScoredPair],
    own_addresses: Mapping[str, set[str]],
    threshold: PublishedThreshold,
    entity_rates: Mapping[str, float],
    key: LakeKey,
    bucket: str,
    result: ObjectResult,
    *,
    tail: Mapping[tuple[str, int], float] | None = None,
    now_ms: int | None = None,
) -> list[dict[str, Any]]:
    """Pair findings, incidents, their members and the other ends of flagged connections,
    in the order they are written. ``tail``: the normal tail, when ``pairs`` are not all the
    object's (``needed_pairs``); without it ``incidents.group`` counts it over ``pairs``."""
    common: dict[str, Any] = {
        "threshold": threshold,
        "source": key,
        "bucket": bucket,
        "now_ms": int(time.time() * 1000) if now_ms is None else now_ms,
    }
    reviewed = answered(pairs, unless_under=threshold.threshold)
    findings = findings_for(reviewed, **common)
    incidents = incidents_of(
        pairs,
        threshold.threshold,
        strict=threshold.strict_threshold,
        rate=threshold.target_fpr,
        entity_rates=entity_rates,
        loose=threshold.loose_threshold,
        tail=tail,
    )
    ends = Ends(pairs, own_addresses)
    incidents += connections(ends, threshold.threshold, threshold.loose_threshold)
    findings += member_findings(incidents, **common)
    findings += other_end_findings(
        ends, flagged_pairs(reviewed, incidents, threshold.threshold), **common
    )
    result.anomalies = sum(
        1 for f in findings if f["unmapped"]["lakewatch.kind"] == "anomalous_pair"
    )
    result.unknown = len(findings) - result.anomalies
    result.incidents = len(incidents)
    findings += [incident_finding(i, **common) for i in incidents]
    return findings


ACCESS_DENIED = ("AccessDenied", "403", "AccessDeniedException", "KMS.AccessDeniedException")
WHOLE_BYTES = 16 * 2**20  # objects up to this size are read in one GET, larger in ranges


def _object_size(response: dict[str, Any]) -> int:
    """The whole object's size from a ranged GET's answer (``Content-Range: bytes a-b/size``)."""
    content_range = str(response.get("ContentRange") or "")
    if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
        return int(content_range.rsplit("/", 1)[1])
    return int(response.get("ContentLength") or 0)  # the server sent it whole


class RangedObject(io.RawIOBase):
    """A seekable, read-only file over an S3 object, each read one ranged GET (the Parquet
    reader asks for its footer, then each row group's column chunks)."""

    def __init__(self, read_range: Callable[[str], bytes], size: int):
        super().__init__()
        self.read_range, self.size, self.pos = read_range, size, 0
        self.requests = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def read(self, size: int | None = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self.size, self.pos + size)
        if end <= self.pos:
            return b""
        self.requests += 1
        data = self.read_range(f"bytes={self.pos}-{end - 1}")
        self.pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def subscribed_key(ref: ObjectRef, config: ScorerConfig, result: ObjectResult) -> LakeKey | None:
    """The parsed key of an object the scorer reads, before anything is fetched; None (with
    ``result.skipped`` saying why) for what a subscriber's queue carries and the scorer does
    not score; ``PoisonMessage`` for anything it never reads.

    - The bucket must be the lake's (``config.lake_bucket``), or the results bucket for the
      canary's VPC Flow objects under ``config.canary_prefix``: another bucket is poison naming
      both (on ``aws`` the role could not read it; on ``local`` nothing else would stop it).
    - In the lake, a data object of a scored source at the bucket's root (what the function's
      IAM policy grants) is read. Security Lake's own non-data keys under a read source's
      folder (Iceberg ``metadata/``, manifests) and the evidence sources' objects are skipped,
      not failed: they are expected on the queue, and a dead letter for each would bury the
      ones that matter. A key of any other source, or outside ``aws/<SOURCE>/``, is poison: the
      subscription does not carry it, so something else sent it.
    - An unknown source version can never be read: poison."""
    lake, results = config.lake_bucket, config.results_bucket
    uri = f"s3://{ref.bucket}/{ref.key}"
    parsed = parse_key(ref.key)
    if ref.bucket == results and ref.bucket != lake:
        if (
            parsed is None
            or parsed.prefix != config.canary_prefix
            or parsed.source != Source.VPC_FLOW.value
        ):
            raise PoisonMessage(
                f"{uri}: the results bucket {results} holds nothing the scorer reads but the "
                f"canary's VPC_FLOW objects under {config.canary_prefix}; the lake is {lake}"
            )
    elif not lake:
        raise TransientError(
            f"{uri}: the scorer has no lake bucket configured (LAKEWATCH_LAKE_BUCKET): "
            "redeploy it with lakewatch's settings"
        )
    elif ref.bucket != lake:
        raise PoisonMessage(
            f"{uri}: bucket {ref.bucket} is not the Security Lake bucket {lake} (nor the "
            f"results bucket {results}, for the canary) the scorer reads: not fetched"
        )
    else:
        folder = _SOURCE_FOLDER.match(ref.key)
        source = folder["source"] if folder else None
        if source not in READ_SOURCES:
            raise PoisonMessage(
                f"{uri}: not under a source lakewatch reads "
                f"(aws/<{'|'.join(sorted(READ_SOURCES))}>/ at the bucket's root): not fetched"
            )
        if parsed is None or parsed.prefix:
            result.skipped = "not a Security Lake data object (metadata, manifest or other)"
            return None
        scored = scored_sources(config.pairs)
        if parsed.source in UNSCORED_SOURCES and parsed.source not in scored:
            result.skipped = (
                f"source {parsed.source} is not scored in real time by this scorer: its pair "
                f"set {config.pairs} has no {View.SIGNIN} view "
                f"({' and '.join(sorted(scored))} are scored)"
            )
            return None
        if parsed.source not in scored:
            result.skipped = (
                f"source {parsed.source} is evidence, not scored "
                f"({' and '.join(sorted(SCORED_SOURCES))} are)"
            )
            return None
    assert parsed is not None
    if parsed.version not in SOURCE_VERSIONS:
        raise PoisonMessage(f"{ref.key}: unknown Security Lake source version {parsed.version}")
    return parsed


class Scorer:
    def __init__(self, config: ScorerConfig, clients: ClientFactory):
        self.config = config
        self.clients = clients
        self.pair_set = PairSet.from_key(config.pairs)
        self.thresholds = ThresholdCache(
            clients("ssm"), config.threshold_parameter, config.threshold_ttl_s
        )
        self.detectors = DetectorCache(clients("s3"), config.results_bucket, config.models_prefix)
        self.entity_rates = EntityRates(clients("s3"))
        self.suppressions = SuppressionCache(
            clients("s3"), config.results_bucket, config.feedback_prefix, config.threshold_ttl_s
        )
        self._security_hub: securityhub.Hub | None = None
        self.rcf: RcfObjectScorer | None = None
        if config.rcf_endpoint_name:
            self.rcf = RcfObjectScorer(
                ssm=clients("ssm"),
                s3=clients("s3"),
                model=EndpointRcf(clients("sagemaker-runtime"), config.rcf_endpoint_name),
                threshold_parameter=config.threshold_parameter,
                results_bucket=config.results_bucket,
                models_prefix=config.models_prefix,
                region=config.region,
                ttl_s=config.threshold_ttl_s,
            )

    def process_message(self, body: str | dict[str, Any]) -> list[ObjectResult]:
        try:
            notification = parse(body)
        except PoisonMessage:
            raise
        except Exception as err:  # RecursionError on deep JSON, anything a parser may raise
            raise PoisonMessage(
                f"cannot parse the message: {type(err).__name__}: {str(err)[:200]}"
            ) from None
        out = []
        for ref in notification.objects:
            try:
                out.append(self.process_object(ref))
            except TransientError as err:
                err.object_uri = f"s3://{ref.bucket}/{ref.key}"
                raise
        return out

    # one object ---------------------------------------------------------------------------

    def _get(self, ref: ObjectRef, bytes_range: str = "") -> dict[str, Any]:
        """GetObject (of ``bytes_range``, when given), its failures as a retry or poison."""
        where = {"Bucket": ref.bucket, "Key": ref.key}
        try:
            if bytes_range:
                return self.clients("s3").get_object(**where, Range=bytes_range)
            return self.clients("s3").get_object(**where)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404"):
                raise TransientError(f"s3://{ref.bucket}/{ref.key} does not exist (yet)") from None
            if code == "InvalidRange":  # no byte to read: an empty object
                raise PoisonMessage(f"{ref.key}: cannot read as Parquet: empty object") from None
            if code in ACCESS_DENIED:
                # a role, bucket or key policy: no retry changes it (and without s3:ListBucket,
                # which the function has not, S3 answers a deleted object so too)
                raise PoisonMessage(
                    f"access denied reading s3://{ref.bucket}/{ref.key} ({code}): the "
                    "function's role may not read it, or it no longer exists"
                ) from None
            raise TransientError(f"reading s3://{ref.bucket}/{ref.key}: {code}") from None
        except BotoCoreError as err:
            raise TransientError(f"reading s3://{ref.bucket}/{ref.key}: {err}") from None

    def _open(self, ref: ObjectRef) -> ObjectBody:
        """The object's bytes; a large one (over ``WHOLE_BYTES``) as a file read in ranges,
        so only its footer and the column chunks the views read are fetched, a row group at
        a time, and the object is never in memory whole."""
        first = self._get(ref, f"bytes=0-{WHOLE_BYTES - 1}")
        size = _object_size(first)
        if size <= WHOLE_BYTES:
            return self._body(ref, first)
        first["Body"].close()
        return RangedObject(lambda span: self._body(ref, self._get(ref, span)), size)

    def _body(self, ref: ObjectRef, response: dict[str, Any]) -> bytes:
        """A response's bytes; the connection failing while they stream is transient, like
        the request failing (not the object's fault: no poison)."""
        try:
            return bytes(response["Body"].read())
        except (BotoCoreError, OSError) as err:
            raise TransientError(f"reading s3://{ref.bucket}/{ref.key}: {err}") from None

    def process_object(self, ref: ObjectRef) -> ObjectResult:
        """Read the object a notification names, score it, write its findings and alert."""
        result = ObjectResult(ref.bucket, ref.key)
        key = subscribed_key(ref, self.config, result)
        if key is None:
            return result
        scored = self.score_object(self._open(ref), key, ref.bucket, result)
        if scored.findings and scored.threshold is not None:
            result.findings = self._write(scored.findings, key, scored.threshold)
            if self.config.security_hub_findings and key.prefix != self.config.canary_prefix:
                self._import(scored.findings, result)
            if self.config.step_up_event_bus:
                self._step_up(scored.findings, result)
            result.alerts = self._alert(scored.findings)
        return result

    def score_object(
        self, body: ObjectBody, key: LakeKey, bucket: str, result: ObjectResult
    ) -> ScoredObject:
        """An object's findings (``score_pairs``'s, then the RCF step's when configured)."""
        scored = self.score_pairs(body, key, bucket, result)
        if (
            self.rcf is None
            or key.source != Source.VPC_FLOW.value
            or key.prefix == self.config.canary_prefix
        ):
            return scored
        found, counts = self.rcf.findings(body, key, bucket)
        result.rcf_hours, result.rcf_scored, result.rcf_findings = (
            counts.hours,
            counts.scored,
            counts.findings,
        )
        if not found:
            return scored
        # stored under the IP Insights threshold's model when it found some too (one file);
        # each joins, or opens, its instance-hour's incident (``scoring.rcf_incidents``)
        rcf_threshold = self.rcf.thresholds.get()
        threshold = scored.threshold or rcf_threshold
        joined = join_rcf(scored.findings, found, rcf_threshold.strict_threshold)
        result.incidents += len(joined) - len(scored.findings) - len(found)
        return ScoredObject(joined, threshold)

    def score_pairs(
        self, body: ObjectBody, key: LakeKey, bucket: str, result: ObjectResult
    ) -> ScoredObject:
        """An object's pair findings from its bytes (or a seekable file of them), filling
        ``result``'s counts: what the function does between reading the object and writing its
        findings (the backtest calls it on objects it read itself).

        Memory is bounded by the object's distinct pairs held as Arrow and numpy columns, not
        Python objects: only the pairs a finding or an incident can involve (``needed_pairs``)
        become ``ScoredPair``s. Past ``config.memory_budget_mb`` the object is poison, with its
        size and the budget (``MemoryBudget``), not an out-of-memory crash."""
        budget = MemoryBudget(self.config.memory_budget_mb, f"s3://{bucket}/{key.key}")
        extracted = object_pairs(body, key, self.pair_set, self.config.region, budget=budget)
        kept = self._kept(extracted, result)
        if kept.num_rows == 0:
            return ScoredObject([], None)
        threshold = self.thresholds.get()
        values, known = self._scores(kept, threshold, budget)
        table = kept.append_column("score", pa.array(values, pa.float64())).append_column(
            "known_entity", pa.array(known, pa.bool_())
        )
        silenced = self.suppressions.active()
        if silenced:
            covered = suppressed(table, silenced)
            result.suppressed = int(covered.sum())
            table = table.filter(pa.array(~covered))
        if extracted.source is Source.CLOUD_TRAIL_MGMT:  # sign-ins: their own findings
            return ScoredObject(
                self._signin_findings(table, threshold, key, bucket, result), threshold
            )
        rates = self.entity_rates.get(threshold)
        pairs, tail = needed_pairs(table, extracted.own_addresses, threshold, rates)
        budget.check("choosing the pairs findings can involve")
        findings = object_findings(
            pairs, extracted.own_addresses, threshold, rates, key, bucket, result, tail=tail
        )
        return ScoredObject(findings, threshold)

    def _signin_findings(
        self,
        table: pa.Table,
        threshold: PublishedThreshold,
        key: LakeKey,
        bucket: str,
        result: ObjectResult,
    ) -> list[dict[str, Any]]:
        """A CloudTrail object's sign-in findings (``scoring.signin_findings``), with what the
        detector's history says of each principal's networks when there is one."""
        detector = self._detector(threshold)
        findings = signin_findings(
            table,
            threshold=threshold,
            source=key,
            bucket=bucket,
            now_ms=int(time.time() * 1000),
            history=None if detector is None else detector_history(detector),
        )
        result.anomalies = sum(
            1 for f in findings if f["unmapped"]["lakewatch.kind"] == "anomalous_pair"
        )
        result.unknown = len(findings) - result.anomalies
        return findings

    def _kept(self, extracted: ObjectPairs, result: ObjectResult) -> pa.Table:
        """The pairs the model scores (already one row per (entity, ip, view)); the rest
        counted by why they were dropped."""
        result.rows = extracted.rows
        result.candidates = extracted.candidates
        result.dropped = dict(extracted.dropped)
        result.pairs = extracted.pairs.num_rows
        return extracted.pairs

    def _scores(
        self, kept: pa.Table, threshold: PublishedThreshold, budget: MemoryBudget
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each pair's score the threshold applies to (endpoint, then detector; nan where
        none) and whether the model knows its entity, ``SCORE_CHUNK`` pairs at a time (their
        text as Python strings only while they are scored)."""
        n = kept.num_rows
        values = np.full(n, np.nan)
        known = np.ones(n, bool)
        detector = self._detector(threshold)
        stand_ins = stand_ins_for(kept, detector)
        runtime = self.clients("sagemaker-runtime")
        for start in range(0, n, SCORE_CHUNK):
            part = kept.slice(start, SCORE_CHUNK)
            entities, ips = part["entity"].to_pylist(), part["ip"].to_pylist()
            if stand_ins is not None and detector is not None:  # scored as who it resembles
                rows = stand_ins[start : start + len(entities)].tolist()
                entities = [
                    detector.name(r) if r >= 0 else e for r, e in zip(rows, entities, strict=True)
                ]
            try:
                scores = invoke_pairs(runtime, self.config.endpoint_name, entities, ips)
            except EndpointError as err:
                raise TransientError(str(err)) from None
            dots = scores.dot_product
            combined = dots if detector is None else detector.score_pairs(entities, ips, dots)
            stop = start + part.num_rows
            values[start:stop] = shifted(
                np.asarray(combined, np.float64), part["view"].to_pylist(), threshold.view_offsets
            )
            if scores.known_entity is not None:
                known[start:stop] = np.asarray(scores.known_entity, bool)
            budget.check(f"scoring pairs {start:,}-{stop:,} of {n:,}")
        return values, known

    def _detector(self, threshold: PublishedThreshold) -> Detector | None:
        """The threshold's detector, when it is for one (None: the bare dot product)."""
        if not threshold.of_detector:
            return None
        try:
            found = self.detectors.get(threshold.model_id)
        except (ClientError, BotoCoreError) as err:
            raise TransientError(f"reading the detector of {threshold.model_id}: {err}") from None
        if found is None:
            raise TransientError(
                f"threshold {threshold.version} is for the detector of model "
                f"{threshold.model_id}, which has none published (yet)"
            )
        return found

    def _write(
        self, findings: list[dict[str, Any]], key: LakeKey, threshold: PublishedThreshold
    ) -> str:
        prefix = (
            canary_findings_prefix(self.config.canary_prefix)
            if key.prefix == self.config.canary_prefix
            else self.config.findings_prefix
        )
        out = findings_key(prefix, key, threshold.model_id)
        return write_findings(self.clients("s3"), self.config.results_bucket, out, findings)

    def _hub(self) -> securityhub.Hub:
        """The account's Security Hub: the configured account, or the function's own (STS)."""
        if self._security_hub is None:
            self._security_hub = security_hub(self.clients, self.config)
        return self._security_hub

    def _import(self, findings: list[dict[str, Any]], result: ObjectResult) -> None:
        """Copy the object's findings, already stored, into Security Hub (``import_findings``:
        never a scorer failure), counted in ``result``."""
        done = import_findings(self._hub, findings, f"s3://{result.bucket}/{result.key}")
        result.imported, result.not_imported = done.imported, done.not_imported
        if done.failed:
            result.import_error = shorten_reason(done.first_error())

    def _step_up(self, findings: list[dict[str, Any]], result: ObjectResult) -> None:
        """Put each unusual sign-in of the object's findings, already stored, on the step-up
        bus. Whatever goes wrong is counted in ``result`` and logged: the findings are safe in
        the results bucket, and failing the message would only score the object again (a
        re-delivery puts the same finding uids again: consumers deduplicate by it)."""
        bus = self.config.step_up_event_bus
        entries = [
            (f["finding_info"]["uid"], step_up_entry(f, bus))
            for f in findings
            if is_unusual_signin(f)
        ]
        if not entries:
            return
        try:
            done = eventbridge.put_events(self.clients("events"), entries)
        except Exception as err:  # anything at all: never a scorer failure
            reason = f"{type(err).__name__}: {str(err)[:300]}"
            done = eventbridge.Put(failed={uid: reason for uid, _ in entries})
        result.step_up_sent, result.step_up_not_sent = done.sent, done.not_sent
        if done.failed:
            result.step_up_error = shorten_reason(done.first_error())
            log.warning(
                "%d of %d step-up event(s) of s3://%s/%s not put on the bus %s (the findings "
                "are stored): %s",
                done.not_sent,
                done.sent + done.not_sent,
                result.bucket,
                result.key,
                bus,
                result.step_up_error,
            )

    def _alert(self, findings: list[dict[str, Any]]) -> int:
        """Publish each finding once per window (``alert_findings``)."""
        return alert_findings(self.clients, self.config, findings)


def write_findings(s3: Any, bucket: str, key: str, findings: list[dict[str, Any]]) -> str:
    """Store ``findings`` as one Parquet object at ``key`` (``storage.to_parquet``); its URI.
    One PUT: a reader sees the whole file or the one it replaces, never half of it. A failure
    is transient (the caller's work is retried)."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=to_parquet(findings))
    except (ClientError, BotoCoreError) as err:
        raise TransientError(f"writing findings s3://{bucket}/{key}: {err}") from None
    return f"s3://{bucket}/{key}"


def security_hub(clients: ClientFactory, config: ScorerConfig) -> securityhub.Hub:
    """The account's Security Hub in the scorer's region: ``config.account_id``, or the
    caller's own account (STS)."""
    account = config.account_id or clients("sts").get_caller_identity()["Account"]
    return securityhub.Hub(clients("securityhub"), account, config.region)


def import_findings(
    hub: Callable[[], securityhub.Hub], findings: list[dict[str, Any]], where: str
) -> securityhub.Imported:
    """Copy findings, already stored, into Security Hub (``hub()`` gives it). Whatever goes
    wrong is in the answer's ``failed`` and logged, never raised: the findings are safe in the
    results bucket, and failing the caller would only score ``where`` again."""
    try:
        done = securityhub.import_ocsf(hub(), findings)
    except Exception as err:  # anything at all: never a scorer failure
        reason = f"{type(err).__name__}: {str(err)[:300]}"
        done = securityhub.Imported(failed={f["finding_info"]["uid"]: reason for f in findings})
    if done.failed:
        log.warning(
            "%d of %d finding(s) of %s not imported into Security Hub (stored in the results "
            "bucket): %s",
            done.not_imported,
            done.imported + done.not_imported,
            where,
            shorten_reason(done.first_error()),
        )
    return done


def alert_findings(
    clients: ClientFactory, config: ScorerConfig, findings: list[dict[str, Any]]
) -> int:
    """Publish each finding (severity 2 and up) to ``config.topic_arn`` once per finding uid:
    a conditional put of its marker (``names.alert_marker_key``) under the findings prefix
    marks it alerted, so whoever finds the same behaviour again (a re-delivered object, a
    later object of the hour, the hourly RCF step) sends nothing. How many were sent."""
    if not config.topic_arn:
        return 0
    s3, sns, sent = clients("s3"), clients("sns"), 0
    for f in findings:
        if f["severity_id"] < 2:
            continue
        marker = alert_marker_key(config.findings_prefix, f["finding_info"]["uid"])
        try:
            s3.put_object(Bucket=config.results_bucket, Key=marker, Body=b"", IfNoneMatch="*")
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "PreconditionFailed":
                continue  # already alerted in this window
            raise TransientError(f"alert marker {marker}: {err}") from None
        except BotoCoreError as err:
            raise TransientError(f"alert marker {marker}: {err}") from None
        try:
            sns.publish(
                TopicArn=config.topic_arn,
                Message=alert_message(f),
                Subject=f["finding_info"]["title"][:100],
            )
        except (ClientError, BotoCoreError) as err:  # un-mark, so the retry alerts
            s3.delete_object(Bucket=config.results_bucket, Key=marker)
            raise TransientError(f"publishing to {config.topic_arn}: {err}") from None
        sent += 1
    return sent


def send_to_dlq(sqs: Any, dlq_url: str, body: str, reason: str, message_id: str) -> None:
    """Dead-letter a poison message at once, with why and where it came from."""
    if not dlq_url:
        raise TransientError(f"poison message {message_id} ({reason}) but no DLQ configured")
    sqs.send_message(
        QueueUrl=dlq_url,
        MessageBody=body,
        MessageAttributes={
            "lakewatch-error": {"DataType": "String", "StringValue": shorten_reason(reason)},
            "lakewatch-source-message-id": {"DataType": "String", "StringValue": message_id},
        },
    )
