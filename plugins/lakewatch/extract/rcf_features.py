"""Random Cut Forest features from the lake: one row per instance and hour.

``include/sql/rcf_features.sql`` (Athena SQL; DuckDB through ``engine.translate``) sums an
instance's VPC Flow records (OCSF 4001) and Route 53 queries (4003) of each UTC hour into the
raw aggregates of ``RAW_COLUMNS``; ``scale`` turns those rows into the numeric matrix RCF
trains on, the columns of ``FEATURES``, ``Standardization`` puts its columns on one scale by
the training rows' figures, and ``write_csv`` writes it as the headerless CSV
``lakewatch train --algorithm rcf`` reads. This module is the one place each feature is
defined: its name, what it counts, how it is scaled. The port classes and protocol groups are
rendered into the SQL from here; the README's table is checked against ``FEATURES``
(``markdown_table``) by tests/extract/test_rcf_features.py.

An instance's record is one its own interface logged: an outbound flow (direction_id 2) is
the instance on ``src_endpoint``, an inbound one (1) on ``dst_endpoint``; a flow between two
instances is each one's, once. Records of no instance ('-': NAT gateways, Lambda, Fargate)
and NODATA records (direction 99) are not read.

Scaling, because RCF cuts a dimension with probability in proportion to its range: counts
and bytes as ``log1p`` (a byte count's raw range would take nearly every cut), shares in
[0, 1], the hour of day as a point on the unit circle (23h next to 0h), and never a raw port
number: ports enter only as counts of flows in a few fixed classes.

Not here yet: ports new to the instance (it needs each instance's history beyond the query's
interval, e.g. the training window's ports; left for the scorer's item).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakewatch.extract.views import QueryContext, render

TEMPLATE = "rcf_features.sql"

# Destination-port classes, by dst_endpoint.port: (SQL column suffix, ports, what it is). A
# flow to none of the listed ports is other_low (1-1023) or high (1024 and up); a flow with
# no port (null or 0: ICMP and other portless protocols) is in no class. A flow is in one
# class at most.
PORT_CLASSES: tuple[tuple[str, tuple[int, ...], str], ...] = (
    ("web", (80, 443), "HTTP or HTTPS (80, 443)"),
    ("ssh", (22,), "SSH (22)"),
    ("rdp", (3389,), "RDP (3389)"),
    ("smb", (139, 445), "SMB / NetBIOS (139, 445)"),
    ("dns", (53,), "DNS (53)"),
)
# Protocol groups, by connection_info.protocol_num; other is every other number.
PROTOCOLS: tuple[tuple[str, tuple[int, ...], str], ...] = (
    ("tcp", (6,), "TCP (6)"),
    ("udp", (17,), "UDP (17)"),
    ("icmp", (1, 58), "ICMP or ICMPv6 (1, 58)"),
)


class Scaling(StrEnum):
    LOG1P = "log1p"  # log(1 + count): a count's orders of magnitude, 0 for none
    SHARE = "share"  # numerator / denominator, in [0, 1]; 0 where the denominator is 0
    HOUR_SIN = "hour_sin"  # sin(2 pi hour / 24)
    HOUR_COS = "hour_cos"  # cos(2 pi hour / 24)


@dataclass(frozen=True)
class Feature:
    """One column of the RCF matrix: ``name``, what it measures, and how it comes from the
    SQL's raw columns (``column``, over ``denominator`` for a share; a denominator of
    several raw columns is their sum). ``_features`` sets ``group``."""

    name: str
    definition: str
    scaling: Scaling
    column: str
    denominator: tuple[str, ...] = ()
    group: str = ""  # the README table's row (features defined alike share one)

    @property
    def raw_columns(self) -> tuple[str, ...]:
        return (self.column, *self.denominator)


FLOWS = ("flows_in", "flows_out")


def _features() -> tuple[Feature, ...]:
    log, share = Scaling.LOG1P, Scaling.SHARE
    out = [
        Feature("flows_in", "inbound flow records (direction_id 1)", log, "flows_in"),
        Feature("flows_out", "outbound flow records (direction_id 2)", log, "flows_out"),
        Feature("bytes_in", "traffic.bytes of the inbound flows", log, "bytes_in"),
        Feature("bytes_out", "traffic.bytes of the outbound flows", log, "bytes_out"),
        Feature("packets", "traffic.packets of all the instance's flows", log, "packets"),
    ]
    out += [
        Feature(f"port_{name}", f"flows to destination port {what}", log, f"port_{name}")
        for name, _, what in PORT_CLASSES
    ]
    out += [
        Feature(
            "port_other_low",
            "flows to another well-known destination port (1-1023)",
            log,
            "port_other_low",
        ),
        Feature("port_high", "flows to another destination port, 1024 or above", log, "port_high"),
        Feature("dst_ports", "distinct destination ports", log, "dst_ports"),
        Feature(
            "peers",
            "distinct peer addresses (outbound: dst_endpoint.ip; inbound: src_endpoint.ip)",
            log,
            "peers",
        ),
        Feature(
            "denied_share",
            "share of flows denied (2.0: action_id 2; 1.0: disposition_id 2, Blocked)",
            share,
            "denied",
            FLOWS,
        ),
    ]
    out += [
        Feature(f"{name}_share", f"share of flows over {what}", share, name, FLOWS)
        for name, _, what in PROTOCOLS
    ]
    out += [
        Feature(
            "other_proto_share",
            "share of flows over any other protocol",
            share,
            "other_proto",
            FLOWS,
        ),
        Feature(
            "dns_queries",
            "Route 53 queries from the instance (src_endpoint.instance_uid)",
            log,
            "dns_queries",
        ),
        Feature("dns_domains", "distinct query.hostname queried", log, "dns_domains"),
        Feature(
            "hour_sin", "sin(2 pi h / 24), h the UTC hour of day", Scaling.HOUR_SIN, "hour_of_day"
        ),
        Feature("hour_cos", "cos(2 pi h / 24)", Scaling.HOUR_COS, "hour_of_day"),
    ]
    return tuple(out)


_GROUPS = {
    "traffic": ("flows_in", "flows_out", "bytes_in", "bytes_out", "packets"),
    "ports": (*tuple(f"port_{name}" for name, _, _ in PORT_CLASSES), "port_other_low", "port_high"),
    "spread": ("dst_ports", "peers"),
    "shares": ("denied_share", *(f"{name}_share" for name, _, _ in PROTOCOLS), "other_proto_share"),
    "dns": ("dns_queries", "dns_domains"),
    "hour": ("hour_sin", "hour_cos"),
}
FEATURES: tuple[Feature, ...] = tuple(
    dataclasses.replace(f, group=next(g for g, names in _GROUPS.items() if f.name in names))
    for f in _features()
)
# The SQL's row key, beside the raw aggregates: the instance and its hour's start (epoch ms).
KEY_COLUMNS = ("instance", "hour_start")
# and the subnet of the instance's interface (OCSF ``subnet_uid``; null where no flow names
# one): the group a new instance is measured against (``FeatureProfile.usual_of``)
SUBNET_COLUMN = "subnet"
RAW_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(c for f in FEATURES for c in f.raw_columns))
# The raw columns the flow records give (the rest: the hour of day and Route 53's two).
FLOW_COLUMNS = tuple(
    c for c in RAW_COLUMNS if c not in ("hour_of_day", "dns_queries", "dns_domains")
)


def feature_names() -> list[str]:
    return [f.name for f in FEATURES]


def sql(ctx: QueryContext, dns: bool = True) -> str:
    """The Athena SQL of the interval's instance-hours. ``dns=False`` leaves Route 53 out (a
    lake without its table: Athena fails a query naming a missing table); its two columns are
    then 0."""
    variables = {
        "port_classes": [(name, list(ports)) for name, ports, _ in PORT_CLASSES],
        "classed_ports": [p for _, ports, _ in PORT_CLASSES for p in ports],
        "protocols": [(name, list(nums)) for name, nums, _ in PROTOCOLS],
        "grouped_protocols": [n for _, nums, _ in PROTOCOLS for n in nums],
        "flow_columns": list(FLOW_COLUMNS),
        "with_dns": dns,
    }
    return render(TEMPLATE, dataclasses.replace(ctx, extra={**ctx.extra, **variables}))


def scale(rows: pa.Table) -> np.ndarray:
    """The raw aggregates (``sql``'s rows, or any table with ``RAW_COLUMNS``) as the RCF
    matrix: one float64 row per input row, one column per feature in ``FEATURES``' order.
    A missing column, a null, a negative count or an hour outside 0-23 is a ValueError
    naming the column."""
    missing = [c for c in RAW_COLUMNS if c not in rows.column_names]
    if missing:
        raise ValueError(f"the feature rows lack column(s) {', '.join(missing)}")
    raw = {}
    for name in RAW_COLUMNS:
        column = rows[name]
        if column.null_count:
            raise ValueError(f"column {name} has {column.null_count} null(s)")
        if not any(
            is_type(column.type)
            for is_type in (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal)
        ):
            raise ValueError(f"column {name} is {column.type}, not a number")
        values = pc.cast(column, pa.float64()).to_numpy()
        if not np.isfinite(values).all() or (values < 0).any():
            raise ValueError(f"column {name} has a negative or non-finite value")
        raw[name] = values
    hour = raw["hour_of_day"]
    if ((hour > 23) | (hour != np.floor(hour))).any():
        raise ValueError("column hour_of_day has a value outside the hours 0-23")
    out = np.empty((rows.num_rows, len(FEATURES)), dtype=np.float64)
    for i, feature in enumerate(FEATURES):
        x = raw[feature.column]
        if feature.scaling is Scaling.LOG1P:
            out[:, i] = np.log1p(x)
        elif feature.scaling is Scaling.SHARE:
            total = sum(raw[c] for c in feature.denominator)
            out[:, i] = np.clip(np.divide(x, total, out=np.zeros_like(x), where=total > 0), 0, 1)
        else:
            angle = 2 * math.pi * x / 24
            out[:, i] = np.sin(angle) if feature.scaling is Scaling.HOUR_SIN else np.cos(angle)
    return out


@dataclass(frozen=True)
class Standardization:
    """Each column's mean and standard deviation over the training rows. RCF cuts a
    dimension in proportion to its range, so the scaled features must also share a scale
    (log bytes reach 20, a share 1): ``apply`` z-scores rows by the training window's
    figures, the same at training and at scoring (the scorer must keep these with the
    model; ``as_dict``/``from_dict``). A constant column's deviation is taken as 1."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, matrix: np.ndarray) -> Standardization:
        if matrix.ndim != 2 or matrix.shape[0] == 0:
            raise ValueError("fitting a standardization needs at least one row")
        std = matrix.std(axis=0)
        std = np.where(std > 1e-9, std, 1.0)
        return cls(tuple(map(float, matrix.mean(axis=0))), tuple(map(float, std)))

    def apply(self, matrix: np.ndarray) -> np.ndarray:
        if matrix.shape[1] != len(self.mean):
            raise ValueError(
                f"rows of {matrix.shape[1]} features, standardized for {len(self.mean)}"
            )
        return (matrix - np.asarray(self.mean)) / np.asarray(self.std)

    def as_dict(self) -> dict:
        return {"features": feature_names(), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict) -> Standardization:
        if data.get("features") != feature_names():
            raise ValueError("the standardization was fitted on other features")
        return cls(tuple(data["mean"]), tuple(data["std"]))


FEATURES_FILE = "features.json"  # a model's FeatureProfile, beside its model.tar.gz

# How a profile turns scaled rows into the model's rows (``FeatureProfile.transform``):
FLEET = "fleet"  # z-scored by the fleet's figures (profiles before the deviation: no "transform")
DEVIATION = "deviation"  # each instance's deviation from its own usual hour, then z-scored
TRANSFORMS = (FLEET, DEVIATION)
MIN_SPREAD_HOURS = 24  # fewer training hours: an instance's spread is the fleet's
SPREAD_FLOOR = 0.5  # an instance's spread is at least this share of the fleet's
FLOOR_QUANTILE = 0.25  # a count's usual is at least this quantile of the fleet's hours


def instance_medians(
    matrix: np.ndarray, instances: np.ndarray
) -> tuple[dict[str, tuple[float, ...]], tuple[float, ...]]:
    """Each instance's median of every column over its rows, and the median over all rows."""
    usual = {
        name: tuple(map(float, np.median(mine, axis=0)))
        for name, mine in _groups(matrix, instances)
    }
    return usual, tuple(map(float, np.median(matrix, axis=0)))


def _groups(matrix: np.ndarray, instances: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(instance, its rows) for every instance, by name: one sort, not a scan per instance."""
    names = np.asarray([str(i) for i in instances], dtype=object)
    order = np.argsort(names, kind="stable")
    unique, starts = np.unique(names[order], return_index=True)
    return [
        (str(name), matrix[rows])
        for name, rows in zip(unique, np.split(order, starts[1:]), strict=True)
    ]


def centred(matrix: np.ndarray, centre: np.ndarray, absolute: tuple[int, ...]) -> np.ndarray:
    """``matrix - centre``, except the ``absolute`` columns (the hour of day), kept as they are."""
    out = matrix - centre
    out[:, list(absolute)] = matrix[:, list(absolute)]
    return out


def instance_spreads(
    matrix: np.ndarray,
    instances: np.ndarray,
    centre: np.ndarray,
    absolute: tuple[int, ...],
    *,
    min_hours: int = MIN_SPREAD_HOURS,
    floor: float = SPREAD_FLOOR,
) -> tuple[dict[str, tuple[float, ...]], tuple[float, ...]]:
    """Each instance's spread of every column (its interquartile range / 1.349, a standard
    deviation's robust estimate), at least ``floor`` x the fleet's (the standard deviation
    of every row's distance from its own instance's ``centre``), for instances with at least
    ``min_hours`` rows; and the fleet's spread, which the others take. An ``absolute``
    column's spread is 1 (it is not divided)."""
    fleet = centred(matrix, centre, absolute).std(axis=0)
    fleet = np.where(fleet > 1e-9, fleet, 1.0)
    fleet[list(absolute)] = 1.0
    spreads = {}
    for name, mine in _groups(matrix, instances):
        if len(mine) < min_hours:
            continue
        q25, q75 = np.quantile(mine, [0.25, 0.75], axis=0)
        own = np.maximum((q75 - q25) / 1.349, floor * fleet)
        own[list(absolute)] = 1.0
        spreads[str(name)] = tuple(map(float, own))
    return spreads, tuple(map(float, fleet))


def deviation(
    matrix: np.ndarray,
    centre: np.ndarray,
    spread: np.ndarray,
    counts: tuple[int, ...],
    absolute: tuple[int, ...],
    floor: np.ndarray | None = None,
) -> np.ndarray:
    """Each row's distance from its instance's usual value in its instance's spreads
    (``centre`` and ``spread`` give each row's instance's), the ``absolute`` columns as they
    are. A ``counts`` column is floored at the usual value: an hour with less traffic than
    usual is as usual (no kind of misuse shows as less), while more traffic counts in full;
    and its usual is at least ``floor`` (an activity floor, the fleet's ``FLOOR_QUANTILE``
    of that column): a few flows more on a near-idle instance are not, by themselves, a
    deviation."""
    if floor is not None:
        centre = centre.copy()
        cols = list(counts)
        centre[:, cols] = np.maximum(centre[:, cols], np.asarray(floor)[cols])
    out = centred(matrix, centre, absolute) / spread
    out[:, list(counts)] = np.maximum(out[:, list(counts)], 0.0)
    return out


_INDEX = {f.name: i for i, f in enumerate(FEATURES)}
COUNT_COLUMNS = tuple(i for i, f in enumerate(FEATURES) if f.scaling is Scaling.LOG1P)
HOUR_COLUMNS = tuple(
    i for i, f in enumerate(FEATURES) if f.scaling in (Scaling.HOUR_SIN, Scaling.HOUR_COS)
)
SHARE_COLUMNS = tuple(
    i for i, f in enumerate(FEATURES) if f.scaling is Scaling.SHARE and f.denominator == FLOWS
)


@dataclass(frozen=True)
class FeatureProfile:
    """What an RCF model's scorer needs besides the trees: how its rows were made from the
    scaled features (``transform``), the ``Standardization`` that z-scored them, and each
    instance's usual value of every feature (its training hours' median, scaled but not
    standardized), with the median over every training hour for an instance the training
    never saw. Saved in the model's artifact (``model.json``'s ``features``) and beside it
    (``FEATURES_FILE``), read back with ``from_dict``: the same figures at training and at
    scoring.

    ``transform`` ``deviation`` (the default; docs/rcf.md has the measurements): a row is
    its instance's deviation from its own usual hour, in that instance's spreads (``spread``:
    each feature's interquartile range / 1.349 over its training hours, at least half the
    fleet's, for an instance with ``MIN_SPREAD_HOURS`` hours; ``fleet_spread`` for the rest),
    the counts and bytes floored at the usual (a quieter hour than usual is a usual hour) and
    measured from at least ``floor`` (the fleet's hours' ``FLOOR_QUANTILE``: an activity
    floor, so a near-idle instance's few flows more are not a deviation), the
    flow shares of an hour with no flow at the usual (nothing to share), the hour of day as it
    is; then z-scored. One global z-score of absolute values made a quiet instance's empty
    hour the most anomalous thing in the fleet. ``fleet``: the absolute values z-scored (a
    profile saved before ``transform`` existed reads as this, as its model was trained)."""

    standardization: Standardization
    usual: dict[str, tuple[float, ...]]
    overall: tuple[float, ...]
    hours: dict[str, int]  # each instance's training hours
    transform: str = DEVIATION
    spread: dict[str, tuple[float, ...]] = dataclasses.field(default_factory=dict)
    fleet_spread: tuple[float, ...] = ()
    floor: tuple[float, ...] = ()
    # each training instance's subnet; each subnet's usual hour (its rows' median) and spread
    # (its rows' around it): what an instance the training never saw is measured against
    subnets: dict[str, str] = dataclasses.field(default_factory=dict)
    subnet_usual: dict[str, tuple[float, ...]] = dataclasses.field(default_factory=dict)
    subnet_spread: dict[str, tuple[float, ...]] = dataclasses.field(default_factory=dict)

    @classmethod
    def fit(cls, rows: pa.Table, transform: str = DEVIATION) -> FeatureProfile:
        """From the training window's feature rows (``sql``'s: ``KEY_COLUMNS`` and
        ``RAW_COLUMNS``)."""
        return cls.fit_matrix(scale(rows), _instances(rows), transform, _subnets(rows))

    @classmethod
    def fit_matrix(
        cls,
        matrix: np.ndarray,
        instances: np.ndarray,
        transform: str = DEVIATION,
        subnets: np.ndarray | None = None,
    ) -> FeatureProfile:
        """From scaled rows (``scale``'s), each row's instance and (where known) its subnet."""
        if transform not in TRANSFORMS:
            raise ValueError(f"unknown transform {transform!r}; choose from {TRANSFORMS}")
        instances = np.asarray(instances, dtype=object)
        usual, overall = instance_medians(matrix, instances)
        hours = {name: len(mine) for name, mine in _groups(matrix, instances)}
        fleet = cls(Standardization.fit(matrix), usual, overall, hours, FLEET)
        if transform == FLEET:
            return fleet
        spread, fleet_spread = instance_spreads(
            _no_flow_as_usual(matrix, fleet._centre(instances)),
            instances,
            fleet._centre(instances),
            HOUR_COLUMNS,
        )
        floor = tuple(map(float, np.quantile(matrix, FLOOR_QUANTILE, axis=0)))
        partial = dataclasses.replace(
            fleet, transform=DEVIATION, spread=spread, fleet_spread=fleet_spread, floor=floor
        )
        z = Standardization.fit(partial._deviation(matrix, instances))
        subnet_of, subnet_usual, subnet_spread = _subnet_figures(matrix, instances, subnets)
        return dataclasses.replace(
            partial,
            standardization=z,
            subnets=subnet_of,
            subnet_usual=subnet_usual,
            subnet_spread=subnet_spread,
        )

    def usual_of(self, instance: str, subnet: str = "") -> tuple[float, ...]:
        """The instance's usual hour; for one the training never saw, its subnet's (a new
        instance of a service: its subnet's instances are its tier's), else the fleet's."""
        if instance in self.usual:
            return self.usual[instance]
        return self.subnet_usual.get(subnet, self.overall)

    def spread_of(self, instance: str, subnet: str = "") -> tuple[float, ...]:
        """The instance's spreads; a known instance of few hours takes the fleet's, an unknown
        one its subnet's (measured against the subnet's usual hour, it varies as much)."""
        if instance in self.spread:
            return self.spread[instance]
        if instance in self.usual:
            return self.fleet_spread
        return self.subnet_spread.get(subnet, self.fleet_spread)

    def _centre(self, instances: np.ndarray, subnets: np.ndarray | None = None) -> np.ndarray:
        return _per_row(instances, self.usual_of, subnets)

    def _deviation(
        self, matrix: np.ndarray, instances: np.ndarray, subnets: np.ndarray | None = None
    ) -> np.ndarray:
        centre = self._centre(instances, subnets)
        spread = _per_row(instances, self.spread_of, subnets)
        return deviation(
            _no_flow_as_usual(matrix, centre),
            centre,
            spread,
            COUNT_COLUMNS,
            HOUR_COLUMNS,
            np.asarray(self.floor),
        )

    def transform_matrix(self, matrix: np.ndarray, instances, subnets=None) -> np.ndarray:
        """Scaled rows (``scale``'s) of the given instances, one name a row (and, where
        given, each row's subnet), as the model's rows: what it was trained on and scores."""
        if matrix.ndim != 2 or matrix.shape[1] != len(FEATURES):
            raise ValueError(f"rows of {matrix.shape[-1]} features, profiled for {len(FEATURES)}")
        names = np.asarray(list(instances), dtype=object)
        if len(names) != len(matrix):
            raise ValueError(f"{len(names)} instances for {len(matrix)} rows")
        if subnets is not None and len(subnets) != len(matrix):
            raise ValueError(f"{len(subnets)} subnets for {len(matrix)} rows")
        if self.transform == FLEET:
            return self.standardization.apply(matrix)
        return self.standardization.apply(self._deviation(matrix, names, subnets))

    def apply(self, rows: pa.Table) -> np.ndarray:
        """Feature rows (``KEY_COLUMNS`` and ``RAW_COLUMNS``: the SQL's, an object's) as the
        model's rows: ``scale``, then ``transform_matrix`` by each row's instance (and its
        ``SUBNET_COLUMN``, where the rows have it)."""
        return self.transform_matrix(scale(rows), _instances(rows), _subnets(rows))

    def usual_rows(self, instances, subnets=None) -> np.ndarray:
        """The given instances' usual hours as the model's rows (every feature at the
        instance's median, or its subnet's for an instance the training never saw)."""
        names = list(instances)
        at = np.asarray(names, dtype=object)
        return self.transform_matrix(self._centre(at, subnets), names, subnets)

    def as_dict(self) -> dict:
        out = {
            "standardization": self.standardization.as_dict(),
            "usual": {k: list(v) for k, v in self.usual.items()},
            "overall": list(self.overall),
            "hours": dict(self.hours),
            "transform": self.transform,
        }
        if self.transform == DEVIATION:
            out["spread"] = {k: list(v) for k, v in self.spread.items()}
            out["fleet_spread"] = list(self.fleet_spread)
            out["floor"] = list(self.floor)
            out["subnets"] = dict(self.subnets)
            out["subnet_usual"] = {k: list(v) for k, v in self.subnet_usual.items()}
            out["subnet_spread"] = {k: list(v) for k, v in self.subnet_spread.items()}
        return out

    @classmethod
    def from_dict(cls, data: dict) -> FeatureProfile:
        """A saved profile; one without ``transform`` (saved before it existed) is ``fleet``,
        as its model was trained."""
        width = len(FEATURES)
        usual = {str(k): tuple(map(float, v)) for k, v in data.get("usual", {}).items()}
        overall = tuple(map(float, data["overall"]))
        if len(overall) != width or any(len(v) != width for v in usual.values()):
            raise ValueError(f"the profile's usual values are not {width} features wide")
        transform = data.get("transform", FLEET)
        if transform not in TRANSFORMS:
            raise ValueError(
                f"the profile's transform {transform!r} is not one this version applies "
                f"({', '.join(TRANSFORMS)}): retrain the model or upgrade the scorer"
            )
        spread = {str(k): tuple(map(float, v)) for k, v in data.get("spread", {}).items()}
        fleet_spread = tuple(map(float, data.get("fleet_spread", ())))
        floor = tuple(map(float, data.get("floor", ())))
        # a profile saved before subnets: an unknown instance takes the fleet's figures
        subnet_usual = {
            str(k): tuple(map(float, v)) for k, v in data.get("subnet_usual", {}).items()
        }
        subnet_spread = {
            str(k): tuple(map(float, v)) for k, v in data.get("subnet_spread", {}).items()
        }
        if transform == DEVIATION and (
            len(fleet_spread) != width
            or len(floor) != width
            or any(len(v) != width for v in spread.values())
            or any(len(v) != width for v in (*subnet_usual.values(), *subnet_spread.values()))
        ):
            raise ValueError(f"the profile's spreads or floor are not {width} features wide")
        return cls(
            Standardization.from_dict(data["standardization"]),
            usual,
            overall,
            {str(k): int(v) for k, v in data.get("hours", {}).items()},
            transform,
            spread,
            fleet_spread,
            floor,
            {str(k): str(v) for k, v in data.get("subnets", {}).items()},
            subnet_usual,
            subnet_spread,
        )


def _subnet_figures(
    matrix: np.ndarray, instances: np.ndarray, subnets: np.ndarray | None
) -> tuple[dict[str, str], dict[str, tuple[float, ...]], dict[str, tuple[float, ...]]]:
    """``FeatureProfile``'s subnet fields from the training rows: each instance's subnet
    (its rows' first named one), each subnet's median row, and each subnet's spreads about
    it (``instance_spreads`` with the subnet as the instance: at least ``MIN_SPREAD_HOURS``
    rows; fewer, and an unknown instance there takes the fleet's spreads)."""
    if subnets is None:
        return {}, {}, {}
    named = np.asarray([bool(s) for s in subnets])
    if not named.any():
        return {}, {}, {}
    groups = np.asarray(subnets, dtype=object)[named]
    subnet_of: dict[str, str] = {}
    for instance, subnet in zip(np.asarray(instances)[named], groups, strict=True):
        subnet_of.setdefault(str(instance), str(subnet))
    usual, _ = instance_medians(matrix[named], groups)
    centre = _per_row(groups, lambda name, _subnet: usual[name])
    spread, _ = instance_spreads(
        _no_flow_as_usual(matrix[named], centre), groups, centre, HOUR_COLUMNS
    )
    return subnet_of, usual, spread


def _per_row(instances: np.ndarray, of, subnets: np.ndarray | None = None) -> np.ndarray:
    """``of(instance, subnet)`` (a row of figures) for each row's instance and subnet ("" where
    none is known), looked up once each pair."""
    names = [str(i) for i in instances]
    if not names:
        return np.zeros((0, len(FEATURES)))
    groups = [""] * len(names) if subnets is None else [str(s or "") for s in subnets]
    keys = list(zip(names, groups, strict=True))
    index = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    table = np.asarray([of(*key) for key in index], np.float64)
    return table[[index[key] for key in keys]]


def _instances(rows: pa.Table) -> np.ndarray:
    if "instance" not in rows.column_names:
        raise ValueError("the feature rows lack column instance")
    return np.asarray(rows["instance"].to_pylist(), dtype=object)


def _subnets(rows: pa.Table) -> np.ndarray | None:
    """Each row's subnet (None where null), or None for rows without the column (saved
    before it, or made by hand)."""
    if SUBNET_COLUMN not in rows.column_names:
        return None
    return np.asarray(rows[SUBNET_COLUMN].to_pylist(), dtype=object)


def _no_flow_as_usual(matrix: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """The flow shares of an hour with no flow (a Route 53-only hour: ``scale`` gives 0) at
    the instance's usual: there is nothing to share, so no evidence either way."""
    empty = (matrix[:, _INDEX["flows_in"]] == 0) & (matrix[:, _INDEX["flows_out"]] == 0)
    if not empty.any():
        return matrix
    out = matrix.copy()
    cols = list(SHARE_COLUMNS)
    out[np.ix_(empty, cols)] = centre[np.ix_(empty, cols)]
    return out


def raw_value(feature: Feature, scaled: float) -> float:
    """A scaled value back in the feature's own units: a count or bytes (``log1p`` undone),
    a share, or the hour of day (the angle's sine or cosine: not invertible alone, returned
    as it is)."""
    if feature.scaling is Scaling.LOG1P:
        return float(np.expm1(max(scaled, 0.0)))
    return float(scaled)


def write_csv(matrix: np.ndarray, path: str | Path) -> Path:
    """The matrix as headerless numeric CSV (``text/csv;label_size=0``), RCF's training data."""
    path = Path(path)
    np.savetxt(path, matrix, delimiter=",", fmt="%.6g")
    return path


def markdown_table() -> str:
    """The README's table of every feature, a row per ``group`` (the test holds the README
    to it): the group's names, their definitions in the same order, their scalings."""
    groups: dict[str, list[Feature]] = {}
    for f in FEATURES:
        groups.setdefault(f.group, []).append(f)
    scaling = {
        Scaling.LOG1P: "log1p",
        Scaling.SHARE: "share in [0, 1]",
        Scaling.HOUR_SIN: "unit circle",
        Scaling.HOUR_COS: "unit circle",
    }
    lines = ["| features | definitions, in the same order | scaling |", "|---|---|---|"]
    for features in groups.values():
        names = ", ".join(f"`{f.name}`" for f in features)
        definitions = "; ".join(f.definition for f in features)
        scalings = ", ".join(dict.fromkeys(scaling[f.scaling] for f in features))
        lines.append(f"| {names} | {definitions} | {scalings} |")
    return "\n".join(lines)
