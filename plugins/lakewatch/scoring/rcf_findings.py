"""Findings of the Random Cut Forest: "Unusual activity of an instance in an hour" (OCSF 2004).

An object's RCF rows are ``extract.rcf_features``' (``KEY_COLUMNS``: instance, hour_start;
``RAW_COLUMNS``: the hour's raw aggregates). Each row is made the model's row by the model's
own ``FeatureProfile`` (saved with it: scaled, its instance's deviation from its usual hour,
z-scored; ``FeatureProfile.apply``) and scored;
an RCF score is *higher* for a more anomalous row (the opposite of IP Insights' dot product),
so a row is flagged when its score is above the threshold. Each flagged row is one finding, on
``pair_findings.base_finding`` like the others:

- kind ``rcf``: ``unmapped['lakewatch.kind']`` and ``['lakewatch.model']`` are ``rcf``,
  ``['lakewatch.view']`` is ``rcf_features``; the analytic is "Random Cut Forest";
- the instance is ``resources[0]`` and ``evidences[0].src_endpoint.instance_uid`` (so the
  backtest matches it to a truth row of that instance and any address);
- the hour is ``start_time`` / ``end_time`` (its first and last millisecond);
- its uid is the behaviour's (instance, ``rcf_features``, hour), the same for every model;
- the explanation: the features that carry most of the score by RCF's attribution (the
  forest's DiVector, high + low summed per feature; the hour's sine and cosine are one item),
  each in its raw units beside the instance's usual value (its training hours' median, from
  the profile; the median of all training hours for an instance the model never saw), e.g.
  "dst port class rdp: 40 flows (usual 0); bytes out 48 MB (usual 0.3 MB)";
- severity from how far above the threshold the score is, in the threshold's ``scale``
  (the spread of normal scores), with the same steps as ``pair_findings.severity_for``.

The model is anything with ``score(rows)`` as ``model.rcf.forest.RandomCutForest`` has it
(``RcfScorer``), so this module imports no compiled code; the threshold is the
``PublishedThreshold`` the scorer reads. A SageMaker RCF endpoint answers scores only, no
attribution: for a model without ``attribution`` the explanation ranks the features by how far
the hour lies from the instance's usual value in standardized units (``|z - z_usual|``; the
hour of day is then never named, its median is no usual hour), and the finding says which
(``unmapped['lakewatch.explained_by']``: ``attribution`` or ``deviation``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from lakewatch.extract.rcf_features import (
    FEATURES,
    SUBNET_COLUMN,
    Feature,
    FeatureProfile,
    Scaling,
    raw_value,
)
from lakewatch.lake.layout import LakeKey
from lakewatch.scoring.pair_findings import WINDOW_MS, base_finding, behaviour_uid, severity_for
from lakewatch.threshold.published import PublishedThreshold

KIND = "rcf"
MODEL = "rcf"
VIEW = "rcf_features"
TITLE = "Unusual activity of an instance"
TOP = 3  # features named in a finding's explanation
HOUR = "hour of day"


class RcfAttribution(Protocol):
    high: np.ndarray
    low: np.ndarray


class RcfScorer(Protocol):
    """What scores rows; with ``attribution(rows) -> RcfAttribution`` too when it can."""

    def score(self, rows: np.ndarray) -> np.ndarray: ...


ATTRIBUTION = "attribution"
DEVIATION = "deviation"


@dataclass(frozen=True)
class Contribution:
    """One item of a finding's explanation: a feature (or the hour), its share of the score,
    the hour's value and the instance's usual one, in raw units, as text."""

    feature: str
    attribution: float
    text: str


@dataclass
class ScoredHour:
    instance: str
    hour_start_ms: int
    score: float
    contributions: list[Contribution]
    explained_by: str = ATTRIBUTION  # or DEVIATION: the model gave no attribution

    @property
    def explanation(self) -> str:
        return "; ".join(c.text for c in self.contributions)


def rcf_severity(score: float, threshold: float, scale_: float) -> int:
    """Low just above the threshold, Critical far above it (in spreads of normal scores):
    ``pair_findings.severity_for``'s steps, the other way up."""
    return severity_for(-score, -threshold, scale_)  # above, not below: the same steps


def label(feature: Feature) -> str:
    """A feature's name as the explanation says it: ``port_rdp`` is "dst port class rdp"."""
    if feature.name.startswith("port_"):
        return "dst port class " + feature.name.removeprefix("port_").replace("_", " ")
    return feature.name.replace("_", " ")


def _number(x: float) -> str:
    """Three significant figures at most, no exponent: 48, 48.3, 0.33, 1,250."""
    if x >= 100:
        return f"{x:,.0f}"
    text = f"{x:.1f}" if x >= 10 else f"{x:.2g}" if x >= 0.01 else "0"
    if "e" in text:
        text = f"{x:.2f}"
    return text.removesuffix(".0")


_BYTE_UNITS = (("GB", 1e9), ("MB", 1e6), ("kB", 1e3))


def _byte_unit(x: float) -> tuple[str, float]:
    return next(((u, n) for u, n in _BYTE_UNITS if x >= n), ("B", 1.0))


def _bytes(value: float, usual: float) -> tuple[str, str]:
    """Both in the unit the larger reads best in ("48 MB (usual 0.3 MB)"), except one that
    would read 0 there: in its own ("1.3 GB (usual 580 kB)", "0 B (usual 326 kB)")."""
    unit, size = _byte_unit(max(value, usual))

    def text(x: float) -> str:
        u, n = (unit, size) if x / size >= 0.01 else _byte_unit(x)
        return f"{_number(x / n)} {u}"

    return text(value), text(usual)


def describe(feature: Feature, value: float, usual: float) -> str:
    """ "name: value (usual u)" in the feature's raw units (``value`` and ``usual`` raw)."""
    name = label(feature)
    if feature.scaling is Scaling.SHARE:
        return f"{name}: {value:.0%} (usual {usual:.0%})"
    if feature.name.startswith("bytes"):
        v, u = _bytes(value, usual)
        return f"{name}: {v} (usual {u})"
    unit = " flows" if feature.name.startswith("port_") else ""  # the rest say what they count
    return f"{name}: {_number(value)}{unit} (usual {_number(usual)})"


def _raw_hour_values(rows: pa.Table, i: int) -> dict[str, float]:
    return {
        c: float(rows[c][i].as_py())
        for c in rows.column_names
        if c not in ("instance", SUBNET_COLUMN)
    }


def _subnet_at(rows: pa.Table, i: int) -> str:
    """Row ``i``'s subnet ("" where the rows have none)."""
    if SUBNET_COLUMN not in rows.column_names:
        return ""
    return str(rows[SUBNET_COLUMN][i].as_py() or "")


def _raw_feature(feature: Feature, raw: dict[str, float]) -> float:
    """The hour's own value of a feature in its units (a count, or the share)."""
    if feature.scaling is Scaling.SHARE:
        total = sum(raw[c] for c in feature.denominator)
        return raw[feature.column] / total if total > 0 else 0.0
    return raw[feature.column]


def contributions(
    attribution: np.ndarray,
    raw: dict[str, float],
    usual: tuple[float, ...],
    top: int = TOP,
) -> list[Contribution]:
    """The ``top`` items of one row's explanation, largest share of the score first:
    ``attribution`` per feature (high + low), ``raw`` the hour's raw columns, ``usual`` the
    instance's usual scaled values."""
    items: list[tuple[float, str, str]] = []
    hour_share = 0.0
    for j, feature in enumerate(FEATURES):
        share = float(attribution[j])
        if feature.scaling in (Scaling.HOUR_SIN, Scaling.HOUR_COS):
            hour_share += share
            continue
        text = describe(feature, _raw_feature(feature, raw), raw_value(feature, usual[j]))
        items.append((share, feature.name, text))
    hour = int(raw["hour_of_day"])
    items.append((hour_share, "hour_of_day", f"{HOUR}: {hour:02d}h UTC"))
    items.sort(key=lambda item: (-item[0], item[1]))
    return [Contribution(name, share, text) for share, name, text in items[:top]]


def score_hours(
    rows: pa.Table,
    model: RcfScorer,
    profile: FeatureProfile,
    threshold: float,
    top: int = TOP,
) -> list[ScoredHour]:
    """The rows (instance-hours) whose score is above ``threshold``, in the rows' order, each
    with its explanation. The attribution is computed for those rows only."""
    if rows.num_rows == 0:
        return []
    for column in ("instance", "hour_start"):
        if column not in rows.column_names:
            raise ValueError(f"the feature rows lack column {column}")
    matrix = profile.apply(rows)
    scores = np.asarray(model.score(matrix), dtype=np.float64)
    flagged = np.nonzero(scores > threshold)[0]
    if not len(flagged):
        return []
    total, basis = _shares(model, matrix[flagged], rows, flagged, profile)
    out = []
    for k, i in enumerate(flagged.tolist()):
        instance = str(rows["instance"][i].as_py())
        raw = _raw_hour_values(rows, i)
        out.append(
            ScoredHour(
                instance,
                int(rows["hour_start"][i].as_py()),
                float(scores[i]),
                contributions(total[k], raw, profile.usual_of(instance, _subnet_at(rows, i)), top),
                basis,
            )
        )
    return out


def _shares(
    model: RcfScorer,
    matrix: np.ndarray,
    rows: pa.Table,
    flagged: np.ndarray,
    profile: FeatureProfile,
) -> tuple[np.ndarray, str]:
    """Each flagged row's weight per feature: RCF's attribution (high + low) when the model
    has one, else the standardized distance from the instance's usual value."""
    attribution = getattr(model, "attribution", None)
    if attribution is not None:
        parts: RcfAttribution = attribution(matrix)
        return np.asarray(parts.high) + np.asarray(parts.low), ATTRIBUTION
    at = flagged.tolist()
    usual = profile.usual_rows(
        [str(rows["instance"][i].as_py()) for i in at], [_subnet_at(rows, i) for i in at]
    )
    distance = np.abs(matrix - usual)
    hour = [j for j, f in enumerate(FEATURES) if f.scaling in (Scaling.HOUR_SIN, Scaling.HOUR_COS)]
    distance[:, hour] = 0.0
    return distance, DEVIATION


def finding_uid(hour: ScoredHour) -> str:
    return behaviour_uid(hour.instance, VIEW, hour.hour_start_ms // WINDOW_MS)


def rcf_finding(
    hour: ScoredHour,
    *,
    threshold: PublishedThreshold,
    source: LakeKey,
    bucket: str,
    now_ms: int,
) -> dict[str, Any]:
    """One flagged instance-hour's finding."""
    start = hour.hour_start_ms - hour.hour_start_ms % WINDOW_MS
    title = f"{TITLE}: {hour.instance}"
    most = "Most of the score" + (
        "" if hour.explained_by == ATTRIBUTION else " (by distance from the usual values)"
    )
    desc = (
        f"Random Cut Forest scored {hour.instance}'s hour from "
        f"{_iso(start)} at {hour.score:.4f}, above the threshold {threshold.threshold:.4f} "
        f"(target false-positive rate {threshold.target_fpr or 0:.3%}). {most}: {hour.explanation}."
    )
    finding = base_finding(
        uid=finding_uid(hour),
        kind=KIND,
        title=title,
        desc=desc,
        severity=rcf_severity(hour.score, threshold.threshold, threshold.scale),
        first_ms=start,
        last_ms=start + WINDOW_MS - 1,
        count=1,
        threshold=threshold,
        source=source,
        bucket=bucket,
        now_ms=now_ms,
        instances=[hour.instance],
    )
    finding["metadata"]["product"]["feature"] = {"name": "Random Cut Forest scorer"}
    finding["finding_info"]["analytic"]["name"] = "Random Cut Forest"
    finding["observables"] = [
        {"name": "resources[0].uid", "type": "Resource UID", "type_id": 10, "value": hour.instance}
    ]
    finding["evidences"] = [
        {
            "src_endpoint": {"instance_uid": hour.instance},
            "data": {
                "view": VIEW,
                "entity": hour.instance,
                "explanation": hour.explanation,
                # the stored schema's data is a string map (``storage.SCHEMA``)
                "features": ",".join(c.feature for c in hour.contributions),
                "weights": ",".join(f"{c.attribution:.6g}" for c in hour.contributions),
                "explained_by": hour.explained_by,
            },
        }
    ]
    finding["unmapped"].update(
        {
            "lakewatch.model": MODEL,
            "lakewatch.view": VIEW,
            "lakewatch.score": repr(hour.score),
            "lakewatch.explanation": hour.explanation,
            "lakewatch.top_features": ",".join(c.feature for c in hour.contributions),
            "lakewatch.explained_by": hour.explained_by,
        }
    )
    return finding


def rcf_findings(
    rows: pa.Table,
    *,
    model: RcfScorer,
    profile: FeatureProfile,
    threshold: PublishedThreshold,
    source: LakeKey,
    bucket: str,
    now_ms: int,
    top: int = TOP,
) -> list[dict[str, Any]]:
    """An object's RCF findings: one per instance-hour scored above the threshold. A
    threshold record that flags below (IP Insights') is refused: its number is on another
    scale and the other way up."""
    if not threshold.flags_above:
        raise ValueError(
            f"threshold {threshold.model_id} flags scores below it ({threshold.score}), "
            "not an RCF threshold"
        )
    return [
        rcf_finding(h, threshold=threshold, source=source, bucket=bucket, now_ms=now_ms)
        for h in score_hours(rows, model, profile, threshold.threshold, top)
    ]


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%MZ")
