"""The sizing model: what lakewatch needs on the ``aws`` backend for an organisation's lake.

``size(Lake(...))`` turns a lake's volume (accounts, regions, TB a day of VPC Flow Logs, with
Route 53 and CloudTrail beside them) into the daily extract's Athena bytes and cost, the
training job's instance and time (lakewatch's own trainer in script mode, and SageMaker's
built-in IP Insights), the endpoint's instances, the scorer's Lambda memory, concurrency and
SQS batch settings, and each stage's need against its limit, worst first (where it breaks).
``render`` prints it; ``lakewatch sizing`` and docs/scale.md show exactly that text (a test
holds the doc's example equal to it).

Every per-unit figure below is a ``Figure`` that says where it comes from:

- ``measured``: measured in this repository (``python -m bench sizing`` on the synthetic
  lake, or docs/benchmarks.md's rows on this project's 2-core machine);
- ``extrapolated``: a measured figure scaled to another machine (per vCPU);
- ``documented``: AWS's documentation (a list price or quota: check it for your account);
- ``assumed``: a choice of this model, each overridable where it is an input.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from lakewatch.aws.endpoint import MAX_REQUEST_BYTES
from lakewatch.extract.views import View
from lakewatch.lake.layout import Source
from lakewatch.model.hyperparameters import MAX_DEFAULT_IP_BUCKETS, SPECS
from lakewatch.scoring.process import SCORE_CHUNK

MEASURED, EXTRAPOLATED, DOCUMENTED, ASSUMED = "measured", "extrapolated", "documented", "assumed"


@dataclass(frozen=True)
class Figure:
    value: float
    unit: str
    kind: str  # measured | extrapolated | documented | assumed
    source: str  # how it was measured, or where it is documented, or why it is assumed


# --- the lake: measured by `python -m bench sizing` (full run: one synthetic day of
# 2,000,000 rows, 4 accounts, GZIP Parquet as the lake writes it) -------------------------
_BENCH = "python -m bench sizing, the synthetic lake (one 2M-row day, 4 accounts)"
FLOW_BYTES_PER_ROW = Figure(49.1, "B/row", MEASURED, f"{_BENCH}: object bytes / rows")
ROUTE53_BYTES_PER_ROW = Figure(23.6, "B/row", MEASURED, f"{_BENCH}: object bytes / rows")

# The leaf columns each scan of pairs.sql reads (``extract.views.scans``: egress_peer and
# ingress_peer together are one scan, flow_peers), as the SQL names them; Athena reads only
# these from Parquet (nested fields are separate Parquet columns) and bills their compressed
# bytes. tests/serving/test_sizing.py holds these equal to the rendered SQL.
_FLOW_TIME = ("time", "time_dt")
VIEW_COLUMNS: dict[str, dict[Source, tuple[str, ...]]] = {
    "flow_peers": {
        Source.VPC_FLOW: (
            *_FLOW_TIME,
            "connection_info.direction_id",
            "src_endpoint.instance_uid",
            "src_endpoint.ip",
            "src_endpoint.port",
            "dst_endpoint.instance_uid",
            "dst_endpoint.ip",
            "dst_endpoint.port",
        )
    },
    View.EGRESS_PEER: {
        Source.VPC_FLOW: (
            *_FLOW_TIME,
            "connection_info.direction_id",
            "src_endpoint.instance_uid",
            "src_endpoint.port",
            "dst_endpoint.ip",
            "dst_endpoint.port",
        )
    },
    View.INGRESS_PEER: {
        Source.VPC_FLOW: (
            *_FLOW_TIME,
            "connection_info.direction_id",
            "dst_endpoint.instance_uid",
            "src_endpoint.ip",
            "src_endpoint.port",
            "dst_endpoint.port",
        )
    },
    View.DNS_ANSWER: {
        Source.ROUTE53: (
            *_FLOW_TIME,
            "src_endpoint.instance_uid",
            "src_endpoint.port",
            "answers.type",
            "answers.rdata",
        )
    },
    View.SEED: {
        Source.VPC_FLOW: (
            *_FLOW_TIME,
            "src_endpoint.instance_uid",
            "src_endpoint.ip",
            "src_endpoint.port",
            "dst_endpoint.port",
        ),
        Source.ROUTE53: (
            *_FLOW_TIME,
            "src_endpoint.instance_uid",
            "src_endpoint.ip",
            "src_endpoint.port",
        ),
    },
}
_SCAN = f"{_BENCH}: the listed columns' total_compressed_size / rows"
SCAN_BYTES_PER_ROW: dict[str, dict[Source, Figure]] = {
    "flow_peers": {Source.VPC_FLOW: Figure(16.90, "B/row", MEASURED, _SCAN)},
    View.EGRESS_PEER: {Source.VPC_FLOW: Figure(13.98, "B/row", MEASURED, _SCAN)},
    View.INGRESS_PEER: {Source.VPC_FLOW: Figure(15.27, "B/row", MEASURED, _SCAN)},
    View.DNS_ANSWER: {Source.ROUTE53: Figure(15.87, "B/row", MEASURED, _SCAN)},
    View.SEED: {
        Source.VPC_FLOW: Figure(15.34, "B/row", MEASURED, _SCAN),
        Source.ROUTE53: Figure(14.79, "B/row", MEASURED, _SCAN),
    },
}
_PAIRS = f"{_BENCH}: scoring.pairs.object_pairs, status ok"
# kept candidate pairs (one a record) per row of the view's source: what the extract exports
KEPT_PAIRS_PER_ROW: dict[str, Figure] = {
    View.EGRESS_PEER: Figure(0.5520, "pairs/row", MEASURED, _PAIRS),
    View.INGRESS_PEER: Figure(0.3382, "pairs/row", MEASURED, _PAIRS),
    View.DNS_ANSWER: Figure(1.5923, "pairs/row", MEASURED, _PAIRS),
}
# distinct pairs of one object per row: what the scorer sends the endpoint
OBJECT_DISTINCT_PER_ROW: dict[str, Figure] = {
    View.EGRESS_PEER: Figure(0.0049, "pairs/row", MEASURED, _PAIRS + ", distinct per object"),
    View.INGRESS_PEER: Figure(0.1847, "pairs/row", MEASURED, _PAIRS + ", distinct per object"),
    View.DNS_ANSWER: Figure(0.0534, "pairs/row", MEASURED, _PAIRS + ", distinct per object"),
}
# distinct pairs of the whole day per row: a distinct-per-day training set
DAY_DISTINCT_PER_ROW: dict[str, Figure] = {
    View.EGRESS_PEER: Figure(0.0024, "pairs/row", MEASURED, _PAIRS + ", distinct per day"),
    View.INGRESS_PEER: Figure(0.1823, "pairs/row", MEASURED, _PAIRS + ", distinct per day"),
    View.DNS_ANSWER: Figure(0.0271, "pairs/row", MEASURED, _PAIRS + ", distinct per day"),
}
CSV_BYTES_PER_PAIR = Figure(34.1, "B/pair", MEASURED, f"{_PAIRS}: len('entity,ip\\n')")

# --- measured on this 2-core machine: docs/benchmarks.md --------------------------------
BENCH_CORES = 2
# `bench scorer`: one VPC Flow object to findings, warm; (rows, records/s, peak RSS MB)
# (memory now bounded by DuckDB's spill, not the object's distinct pairs; 20M rows at the
# nightly flag rate)
SCORER_POINTS: tuple[tuple[int, float, float], ...] = (
    (100_000, 284_720, 340),
    (1_000_000, 421_558, 479),
    (5_000_000, 234_913, 656),
    (20_000_000, 101_216, 803),
)
SCORER_RATE = Figure(
    234_913, "records/s", MEASURED, "docs/benchmarks.md, bench scorer, 5M rows (2 cores)"
)
SCORER_HEADROOM = 1.25  # bench/scorer.py's memory headroom over the peak
# `bench model` (one run, 2026-12-08, ninth session): lakewatch train, 1 epoch, 10M pairs,
# 2 threads; the fixed cost and peak RSS of issue 32's 1.5M-pair runs
TRAIN_PAIRS_PER_S = Figure(
    354_990, "pairs/s/epoch", MEASURED, "docs/benchmarks.md, lakewatch train 10M pairs, 2 threads"
)
TRAIN_FIXED_S = Figure(
    7.2,
    "s/run",
    MEASURED,
    "docs/benchmarks.md: one run's fixed cost, t1 - (t3 - t1)/2, 1.5M pairs",
)
# peak RSS 1,762 MB at 10M pairs (tables 608 MB) and 1,439 MB at 1.5M (tables 566 MB)
TRAIN_BYTES_PER_PAIR = Figure(
    ((1_762 - 608) - (1_439 - 566)) * 2**20 / 8_500_000,
    "B/pair",
    MEASURED,
    "docs/benchmarks.md: the RSS beside the tables, 10M pairs against 1.5M",
)
TRAIN_BASE_MB = Figure(
    (1_439 - 566) - 1_500_000 * (((1_762 - 608) - (1_439 - 566)) / 8_500_000),
    "MB",
    MEASURED,
    "docs/benchmarks.md: the RSS beside the tables and the pairs",
)
# `lakewatch score`, 1M pairs, one core (the slower of the two runs)
SCORE_PAIRS_PER_VCPU = Figure(
    270_830, "pairs/s/vCPU", MEASURED, "docs/benchmarks.md, lakewatch score 1M pairs, one core"
)
EXTRACT_ROWS_PER_S = Figure(
    2_473_906, "rows/s", MEASURED, "docs/benchmarks.md, extract on DuckDB, 10M-row lake, 2 cores"
)

# --- documented by AWS (list prices and default quotas: check them for your account) --------
ATHENA_USD_PER_TB = Figure(
    5.0, "USD/TB", DOCUMENTED, "Athena SQL list price per TB scanned, us-east-1: check it"
)
ATHENA_MIN_BYTES = Figure(10 * 2**20, "B/query", DOCUMENTED, "Athena bills at least 10 MB a query")
ATHENA_TIMEOUT_S = Figure(
    30 * 60, "s", DOCUMENTED, "Athena DML query timeout quota, default 30 min (up to 240)"
)
LAMBDA_MB_PER_VCPU = Figure(
    1_769, "MB/vCPU", DOCUMENTED, "Lambda: 1 vCPU of CPU at 1,769 MB, in proportion to memory"
)
LAMBDA_MAX_MB = Figure(10_240, "MB", DOCUMENTED, "Lambda's largest memory setting")
LAMBDA_MAX_TIMEOUT_S = Figure(900, "s", DOCUMENTED, "Lambda's 15-minute timeout")
LAMBDA_CONCURRENCY = Figure(
    1_000, "executions", DOCUMENTED, "Lambda concurrent executions per Region, default quota"
)
SQS_MAX_BATCH = Figure(
    10_000,
    "messages",
    DOCUMENTED,
    "SQS event source BatchSize, standard queue (>10 needs a window)",
)
BUILTIN_MAX_MODEL_BYTES = Figure(
    8 * 2**30, "B", DOCUMENTED, "SageMaker IP Insights: the largest supported model is 8 GB"
)
BUILTIN_INSTANCE = "ml.p3.2xlarge"  # AWS: GPU for training, start with one ml.p3.2xlarge
ENDPOINT_INSTANCE = "ml.m5.large"  # AWS: CPU instances for IP Insights inference

# --- lakewatch's own configuration (the SAM template, the deploy DAG, training jobs) -----
CONFIGURED_MEMORY_MB = 2_048
CONFIGURED_TIMEOUT_S = 300
CONFIGURED_BATCH = 10
CONFIGURED_WINDOW_S = 5
TRAINING_VOLUME_GB = 30  # training.sagemaker's ResourceConfig VolumeSizeInGB
TRAIN_DEADLINE_S = 8 * 3600  # the train DAG's late-run deadline
EXTRACT_QUERIES = 3  # extract.athena.STEPS: counts, unload, splits: each scans the day
WINDOW_DAYS = 7  # the train DAG's window_days default
EPOCHS = 10  # hyperparameters.schedule at large data: SageMaker's default
VECTOR_DIM = int(SPECS["vector_dim"].default)

# (name, vCPUs, GiB): SageMaker training and hosting instances, AWS's instance specs
INSTANCES: tuple[tuple[str, int, int], ...] = (
    ("ml.m5.large", 2, 8),
    ("ml.m5.xlarge", 4, 16),
    ("ml.m5.2xlarge", 8, 32),
    ("ml.m5.4xlarge", 16, 64),
    ("ml.m5.12xlarge", 48, 192),
    ("ml.m5.24xlarge", 96, 384),
)

# --- assumed (inputs of ``Lake`` where they vary by organisation) -------------------------
ROUTE53_ROWS_PER_FLOW_ROW = Figure(
    0.15 / 0.85, "rows/row", ASSUMED, "the synthetic lake's share (dns_share 0.15)"
)
OBJECTS_PER_DAY = Figure(
    288, "objects/account/region/day", ASSUMED, "one object a source every 5 minutes"
)
BUSIEST_SKEW = Figure(10, "x the mean", ASSUMED, "the busiest account's objects over the mean")
PEAK_FACTOR = Figure(2, "x the mean", ASSUMED, "the day's peak rate over its mean")
INSTANCES_PER_ACCOUNT_REGION = Figure(50, "instances", ASSUMED, "EC2 instances (entities)")
ENDPOINT_UTILISATION = Figure(0.5, "of capacity", ASSUMED, "the endpoint's target load")


@dataclass(frozen=True)
class Lake:
    accounts: int
    regions: int
    flow_tb_per_day: float
    route53_tb_per_day: float | None = None  # None: ROUTE53_ROWS_PER_FLOW_ROW
    cloudtrail_tb_per_day: float = 0.0
    instances_per_account_region: int = int(INSTANCES_PER_ACCOUNT_REGION.value)
    objects_per_day: int = int(OBJECTS_PER_DAY.value)  # per account, region and source
    busiest_skew: float = BUSIEST_SKEW.value
    window_days: int = WINDOW_DAYS

    def __post_init__(self):
        if self.accounts < 1 or self.regions < 1:
            raise ValueError("--accounts and --regions must be at least 1")
        if self.flow_tb_per_day <= 0:
            raise ValueError("--flow-tb-per-day must be above 0")
        if (self.route53_tb_per_day or 0) < 0 or self.cloudtrail_tb_per_day < 0:
            raise ValueError("TB per day cannot be negative")
        if self.objects_per_day < 1 or self.busiest_skew < 1 or self.window_days < 1:
            raise ValueError("objects per day, skew and window days must be at least 1")


@dataclass(frozen=True)
class Stage:
    """One stage's need against its limit: ``need / limit`` above 1 breaks."""

    name: str
    need: float
    limit: float
    unit: str  # "B", "s" or a count's unit
    fix: str
    known: bool = True  # False: the limit is not known here; shown to check, never "first"

    @property
    def ratio(self) -> float:
        return self.need / self.limit

    @property
    def breaks(self) -> bool:
        return self.known and self.ratio > 1


@dataclass
class Sizing:
    lake: Lake
    flow_rows: float = 0
    dns_rows: float = 0
    athena_bytes: float = 0
    athena_queries: int = 0
    athena_usd: float = 0
    athena_cores: float = 0  # cores a query needs for the timeout, at DuckDB's per-core rate
    window_pairs: float = 0
    window_distinct: float = 0
    train_instance: str = ""
    train_vcpus: int = 0
    train_memory_bytes: float = 0
    train_s: float = 0
    train_distinct_s: float = 0
    max_train_pairs: float = 0  # the most pairs one run takes on the largest instance
    entity_vectors: int = 0
    builtin_model_bytes: float = 0
    endpoint_pairs_per_s: float = 0
    endpoint_requests_per_s: float = 0
    endpoint_instances: int = 0
    object_rows: float = 0
    busiest_rows: float = 0
    busiest_peak_mb: float = 0
    lambda_memory_mb: int = 0
    busiest_s: float = 0
    busiest_configured_s: float = 0  # at the configured memory
    lambda_timeout_s: int = 0
    batch_size: int = 0
    concurrency_mean: float = 0
    concurrency_peak: float = 0
    notifications_per_s: float = 0
    stages: list[Stage] = field(default_factory=list)

    @property
    def first_break(self) -> Stage | None:
        return next((st for st in self.stages if st.breaks), None)


def _interp(x: float, points: list[tuple[float, float]]) -> float:
    """Piecewise linear through ``points`` (sorted by x), extended along the end segments."""
    segments = list(itertools.pairwise(points))
    (a, ya), (b, yb) = next(((p, q) for p, q in segments if x <= q[0]), segments[-1])
    return ya + (yb - ya) * (x - a) / (b - a)


def scorer_peak_mb(rows: float) -> float:
    """The scorer's peak RSS for an object of ``rows`` records (bench scorer's sizes,
    straight lines between and beyond them)."""
    return max(SCORER_POINTS[0][2], _interp(rows, [(r, mb) for r, _, mb in SCORER_POINTS]))


def scorer_rate(rows: float, memory_mb: float) -> float:
    """Records/s of one function of ``memory_mb`` on an object of ``rows``: the measured rate
    at that size (the 5M-row rate past it) per core of this machine (both counted busy: a
    conservative reading), times Lambda's vCPUs at that memory."""
    measured = [(float(r), rate) for r, rate, _ in SCORER_POINTS]
    at = min(_interp(min(rows, measured[-1][0]), measured), max(r for _, r in measured))
    return at / BENCH_CORES * memory_mb / LAMBDA_MB_PER_VCPU.value


def records_per_s_per_gb(rows: float = 5_000_000) -> float:
    """The scorer's records/s per GB (1,024 MB) of Lambda memory, at an object of ``rows``."""
    return scorer_rate(rows, 1024)


def memory_setting(peak_mb: float) -> int:
    """Lambda memory for a peak: the headroom, 64 MB steps, at least the configured 2,048."""
    return max(CONFIGURED_MEMORY_MB, int(math.ceil(peak_mb * SCORER_HEADROOM / 64) * 64))


def _per_row(figures: dict[str, Figure], flow_rows: float, dns_rows: float) -> float:
    """Pairs of the default views from ``flow_rows`` VPC Flow and ``dns_rows`` Route 53 rows."""
    flow = figures[View.EGRESS_PEER].value + figures[View.INGRESS_PEER].value
    return flow_rows * flow + dns_rows * figures[View.DNS_ANSWER].value


def _train_s(pairs: float, vcpus: int) -> float:
    """One run: the fixed cost, then the epochs at the measured rate scaled per vCPU."""
    return TRAIN_FIXED_S.value + EPOCHS * pairs / (TRAIN_PAIRS_PER_S.value * vcpus / BENCH_CORES)


def _train_bytes(pairs: float, entity_vectors: int) -> float:
    """The trainer's peak memory: the measured base and bytes a pair, and its three tables
    (vectors and two Adam moments) of address rows (the default bound) and entity rows."""
    tables = 3 * 4 * VECTOR_DIM * (MAX_DEFAULT_IP_BUCKETS + entity_vectors)
    return TRAIN_BASE_MB.value * 2**20 + tables + pairs * TRAIN_BYTES_PER_PAIR.value


def size(lake: Lake) -> Sizing:
    """The model's answer for ``lake``."""
    s = Sizing(lake)
    s.flow_rows = lake.flow_tb_per_day * 1e12 / FLOW_BYTES_PER_ROW.value
    s.dns_rows = (
        lake.route53_tb_per_day * 1e12 / ROUTE53_BYTES_PER_ROW.value
        if lake.route53_tb_per_day is not None
        else s.flow_rows * ROUTE53_ROWS_PER_FLOW_ROW.value
    )
    _size_athena(s)
    _size_training(s)
    _size_endpoint(s)
    _size_scorer(s)
    s.stages = sorted(_stages(s), key=lambda st: (st.known, st.ratio), reverse=True)
    return s


def _size_athena(s: Sizing) -> None:
    """Athena: each region's day in the extract's three statements, each scanning the columns
    its views read of both tables; the bill counts at least 10 MB a query."""
    lake = s.lake
    rows = s.flow_rows + s.dns_rows
    per_query = (
        s.flow_rows * SCAN_BYTES_PER_ROW["flow_peers"][Source.VPC_FLOW].value
        + s.dns_rows * SCAN_BYTES_PER_ROW[View.DNS_ANSWER][Source.ROUTE53].value
    ) / lake.regions
    s.athena_queries = EXTRACT_QUERIES * lake.regions
    s.athena_bytes = s.athena_queries * max(per_query, ATHENA_MIN_BYTES.value)
    s.athena_usd = s.athena_bytes / 1e12 * ATHENA_USD_PER_TB.value
    core_s = rows / lake.regions / (EXTRACT_ROWS_PER_S.value / BENCH_CORES)
    s.athena_cores = core_s / ATHENA_TIMEOUT_S.value


def _size_training(s: Sizing) -> None:
    """Training: the window's extracts, one pair a record (what the extract exports today),
    on the smallest instance that holds them and trains them within the deadline."""
    lake = s.lake
    streams = lake.accounts * lake.regions
    s.window_pairs = lake.window_days * _per_row(KEPT_PAIRS_PER_ROW, s.flow_rows, s.dns_rows)
    s.window_distinct = lake.window_days * _per_row(DAY_DISTINCT_PER_ROW, s.flow_rows, s.dns_rows)
    # entities: each instance and its '<id>/in'; num_entity_vectors is twice the entities
    s.entity_vectors = 2 * 2 * streams * lake.instances_per_account_region
    s.train_memory_bytes = _train_bytes(s.window_pairs, s.entity_vectors)
    fits = [i for i in INSTANCES if i[2] * 2**30 >= s.train_memory_bytes * 1.2] or [INSTANCES[-1]]
    in_time = [i for i in fits if _train_s(s.window_pairs, i[1]) <= TRAIN_DEADLINE_S]
    s.train_instance, s.train_vcpus, _ = (in_time or [fits[-1]])[0]
    s.train_s = _train_s(s.window_pairs, s.train_vcpus)
    s.train_distinct_s = _train_s(s.window_distinct, s.train_vcpus)
    _, vcpus, gib = INSTANCES[-1]
    by_memory = (gib * 2**30 / 1.2 - _train_bytes(0, s.entity_vectors)) / TRAIN_BYTES_PER_PAIR.value
    by_time = (
        (TRAIN_DEADLINE_S - TRAIN_FIXED_S.value)
        / EPOCHS
        * (TRAIN_PAIRS_PER_S.value * vcpus / BENCH_CORES)
    )
    s.max_train_pairs = max(0.0, min(by_memory, by_time))
    s.builtin_model_bytes = 4 * VECTOR_DIM * s.entity_vectors


def _size_endpoint(s: Sizing) -> None:
    """The endpoint: each object's distinct pairs, at the day's peak, SCORE_CHUNK pairs a
    request, on enough instances to stay at the target load."""
    lake = s.lake
    streams = lake.accounts * lake.regions
    objects_per_s = streams * lake.objects_per_day / 86_400  # per source
    per_request = min(SCORE_CHUNK, MAX_REQUEST_BYTES // CSV_BYTES_PER_PAIR.value)
    s.endpoint_pairs_per_s = 0.0
    s.endpoint_requests_per_s = 0.0
    for source_rows, views in (
        (s.flow_rows, (View.EGRESS_PEER, View.INGRESS_PEER)),
        (s.dns_rows, (View.DNS_ANSWER,)),
    ):
        distinct = (
            source_rows
            / streams
            / lake.objects_per_day
            * sum(OBJECT_DISTINCT_PER_ROW[v].value for v in views)
        )
        s.endpoint_pairs_per_s += objects_per_s * distinct * PEAK_FACTOR.value
        s.endpoint_requests_per_s += (
            objects_per_s * math.ceil(distinct / per_request) * PEAK_FACTOR.value
        )
    endpoint_vcpus = next(v for n, v, _ in INSTANCES if n == ENDPOINT_INSTANCE)
    per_instance = SCORE_PAIRS_PER_VCPU.value * endpoint_vcpus * ENDPOINT_UTILISATION.value
    s.endpoint_instances = max(1, math.ceil(s.endpoint_pairs_per_s / per_instance))


def _size_scorer(s: Sizing) -> None:
    """The scorer: the busiest account's objects set the memory, the time and the batch; the
    mean object sets the concurrency."""
    lake = s.lake
    rows = s.flow_rows + s.dns_rows
    streams = lake.accounts * lake.regions
    objects_per_s = streams * lake.objects_per_day / 86_400  # per source
    s.notifications_per_s = 2 * objects_per_s  # VPC Flow and Route 53
    s.object_rows = s.flow_rows / streams / lake.objects_per_day
    s.busiest_rows = s.object_rows * lake.busiest_skew
    s.busiest_peak_mb = scorer_peak_mb(s.busiest_rows)
    s.lambda_memory_mb = memory_setting(s.busiest_peak_mb)
    memory = min(s.lambda_memory_mb, LAMBDA_MAX_MB.value)
    s.busiest_s = s.busiest_rows / scorer_rate(s.busiest_rows, memory)
    s.busiest_configured_s = s.busiest_rows / scorer_rate(s.busiest_rows, CONFIGURED_MEMORY_MB)
    s.lambda_timeout_s = int(
        min(LAMBDA_MAX_TIMEOUT_S.value, max(CONFIGURED_TIMEOUT_S, math.ceil(2 * s.busiest_s)))
    )
    # a batch's objects are scored one after another: a batch of the busiest must fit in
    # half the timeout (the other half for a slow endpoint and retries)
    s.batch_size = int(max(1, min(CONFIGURED_BATCH, s.lambda_timeout_s / 2 // s.busiest_s)))
    s.concurrency_mean = rows / 86_400 / scorer_rate(s.object_rows, memory)
    s.concurrency_peak = s.concurrency_mean * PEAK_FACTOR.value


def _stages(s: Sizing) -> list[Stage]:
    """Every stage's need against its limit, in the pipeline's order (the order ties keep)."""
    return [
        *_training_stages(s),
        Stage(
            "Athena: one query in the 30-min timeout, cores at DuckDB's per-core rate",
            s.athena_cores,
            1.0,
            "cores",
            "Athena's parallelism per query is not measured here: if a query times out, "
            "extract each region's day by the hour (24 smaller queries, the same bytes)",
            known=False,
        ),
        *_scorer_stages(s),
        Stage(
            "built-in IP Insights: the entity table against its 8 GB model",
            s.builtin_model_bytes,
            BUILTIN_MAX_MODEL_BYTES.value,
            "B",
            "fewer entity vectors",
        ),
    ]


def _training_stages(s: Sizing) -> list[Stage]:
    """The training job's volume, memory and time: each fixed by sampling the window."""
    name, _, gib = INSTANCES[-1]
    sample = "train on fewer pairs: distinct per day with counts, or a sample"
    return [
        Stage(
            "training: the window's CSV on the job's volume",
            s.window_pairs * CSV_BYTES_PER_PAIR.value,
            TRAINING_VOLUME_GB * 1e9,
            "B",
            f"{sample}; a larger VolumeSizeInGB",
        ),
        Stage(
            f"training: memory on {name}",
            s.train_memory_bytes,
            gib * 2**30,
            "B",
            f"{sample}: the trainer holds the window's pairs in memory",
        ),
        Stage(
            f"training: time on {s.train_instance} (the train DAG's 8 h deadline)",
            s.train_s,
            TRAIN_DEADLINE_S,
            "s",
            f"{sample}; fewer epochs; a GPU (issue 32 item 3)",
        ),
    ]


def _scorer_stages(s: Sizing) -> list[Stage]:
    """The scorer's memory, batch time and concurrency: the busiest object against the
    configured and the largest settings, the day's peak against the account's quota."""
    return [
        Stage(
            f"scorer: busiest object in the configured {CONFIGURED_MEMORY_MB:,} MB",
            s.busiest_peak_mb * SCORER_HEADROOM,
            CONFIGURED_MEMORY_MB,
            "MB",
            f"MemorySize {s.lambda_memory_mb:,}, or issue 32 item 1 (memory within a budget)",
        ),
        Stage(
            "scorer: busiest object in Lambda's largest memory",
            s.busiest_peak_mb * SCORER_HEADROOM,
            LAMBDA_MAX_MB.value,
            "MB",
            "issue 32 item 1: memory bounded by a budget, not by the object",
        ),
        Stage(
            f"scorer: a batch of {CONFIGURED_BATCH} busiest objects in the configured "
            f"{CONFIGURED_TIMEOUT_S} s",
            CONFIGURED_BATCH * s.busiest_configured_s,
            CONFIGURED_TIMEOUT_S,
            "s",
            f"BatchSize {s.batch_size}, or a longer timeout (at most 900 s)",
        ),
        Stage(
            "scorer: peak concurrency",
            s.concurrency_peak,
            LAMBDA_CONCURRENCY.value,
            "executions",
            "a quota increase, or a function per region",
        ),
    ]


def _n(x: float) -> str:
    """A count a reader can compare: 1.23 billion, 45.6 million, 7,890."""
    for scale, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(x) >= scale:
            return f"{x / scale:,.3g} {word}"
    return f"{x:,.0f}"


def _bytes(b: float) -> str:
    for scale, unit in ((1e15, "PB"), (1e12, "TB"), (1e9, "GB"), (1e6, "MB")):
        if b >= scale:
            return f"{b / scale:,.3g} {unit}"
    return f"{b:,.0f} B"


def _time(sec: float) -> str:
    for scale, unit in ((86_400, "days"), (3_600, "h"), (60, "min")):
        if sec >= scale:
            return f"{sec / scale:,.3g} {unit}"
    return f"{sec:,.3g} s"


def _of(stage: Stage) -> str:
    if stage.unit == "B":
        return f"{_bytes(stage.need)} of {_bytes(stage.limit)}"
    if stage.unit == "s":
        return f"{_time(stage.need)} of {_time(stage.limit)}"
    return f"{stage.need:,.0f} of {stage.limit:,.0f} {stage.unit}"


def _verdict(stage: Stage) -> str:
    return "check" if not stage.known else "BREAKS" if stage.breaks else "ok"


def _ratio(x: float) -> str:
    return f"{x:,.0f}x" if x >= 100 else f"{x:.3g}x"


def render(s: Sizing) -> list[str]:
    """The model's answer as ``lakewatch sizing`` prints it (and docs/scale.md shows it)."""
    lake = s.lake
    r53 = (
        f"{lake.route53_tb_per_day:g} TB/day Route 53"
        if lake.route53_tb_per_day is not None
        else "Route 53 at the synthetic lake's rows per flow row"
    )
    dns_tb = s.dns_rows * ROUTE53_BYTES_PER_ROW.value / 1e12
    first = s.first_break
    return [
        f"lakewatch sizing: {lake.accounts:,} accounts, {lake.regions} regions, "
        f"{lake.flow_tb_per_day:g} TB/day VPC Flow, {r53}, "
        f"{lake.cloudtrail_tb_per_day:g} TB/day CloudTrail",
        "",
        "lake",
        f"  VPC Flow rows/day          {_n(s.flow_rows)} "
        f"({FLOW_BYTES_PER_ROW.value:g} B a row, the synthetic lake's)",
        f"  Route 53 rows/day          {_n(s.dns_rows)} ({dns_tb:,.3g} TB)",
        "  CloudTrail                 no view reads it: 0 scanned, 0 scored",
        "Athena (the daily extract)",
        f"  scanned/day                {_bytes(s.athena_bytes)} in {s.athena_queries} queries "
        f"({EXTRACT_QUERIES} a region, each {_bytes(s.athena_bytes / s.athena_queries)})",
        f"  cost/day                   ${s.athena_usd:,.2f} "
        f"(${ATHENA_USD_PER_TB.value:g}/TB list price, us-east-1: check it)",
        f"  cores for 30 min a query   {s.athena_cores:,.0f} at DuckDB's per-core rate",
        f"training ({lake.window_days}-day window, {EPOCHS} epochs)",
        f"  window pairs               {_n(s.window_pairs)} "
        f"({_n(s.window_distinct)} if distinct per day)",
        f"  lakewatch, script mode     {s.train_instance}: {_time(s.train_s)} "
        f"({_time(s.train_distinct_s)} if distinct per day), "
        f"{_bytes(s.train_memory_bytes)} memory",
        f"  most pairs a run takes     {_n(s.max_train_pairs)} ({INSTANCES[-1][0]}, 8 h): "
        f"1 record in {max(1, math.ceil(s.window_pairs / max(s.max_train_pairs, 1))):,}",
        f"  built-in IP Insights       {BUILTIN_INSTANCE} (AWS: GPU to train); time unknown "
        f"(not documented, not measured); {_n(s.entity_vectors)} entity vectors, "
        f"{_bytes(s.builtin_model_bytes)}",
        "endpoint (the scorer's requests at the peak)",
        f"  pairs/s                    {_n(s.endpoint_pairs_per_s)} in "
        f"{s.endpoint_requests_per_s:,.0f} requests/s",
        f"  instances                  {s.endpoint_instances:,} x {ENDPOINT_INSTANCE} "
        f"(at {ENDPOINT_UTILISATION.value:.0%} of the measured rate)",
        "scorer (Lambda, SQS)",
        f"  notifications/s            {s.notifications_per_s:,.1f}",
        f"  VPC Flow object rows       {_n(s.object_rows)} mean, {_n(s.busiest_rows)} busiest",
        f"  records/s per GB           {records_per_s_per_gb():,.0f}",
        f"  MemorySize                 {s.lambda_memory_mb:,} MB "
        f"(configured {CONFIGURED_MEMORY_MB:,}); busiest object {_time(s.busiest_s)}",
        f"  Timeout                    {s.lambda_timeout_s} s (configured {CONFIGURED_TIMEOUT_S})",
        f"  SQS event source           BatchSize {s.batch_size} (configured {CONFIGURED_BATCH}), "
        f"MaximumBatchingWindowInSeconds {CONFIGURED_WINDOW_S}",
        f"  concurrency                {s.concurrency_mean:,.0f} mean, "
        f"{s.concurrency_peak:,.0f} peak (quota {LAMBDA_CONCURRENCY.value:,.0f} a region)",
        "where it breaks (need / limit, worst first)",
        *[f"  {_verdict(st):<6} {_ratio(st.ratio):>9}  {st.name}: {_of(st)}" for st in s.stages],
        f"first: {first.name}: {first.fix}" if first else "first: nothing breaks at this size",
    ]
