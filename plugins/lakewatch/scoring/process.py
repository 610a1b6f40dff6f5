"""Score the objects a notification names: read, extract pairs, score, write findings.

Transient failures (the object not there yet, S3 or the endpoint failing, no threshold
published) raise ``TransientError`` so the message is retried; failures no retry can fix raise
``PoisonMessage``. Keys that are not VPC Flow or Route 53 data objects (other sources, Iceberg
``metadata/``, manifests) are skipped, not failed.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from botocore.exceptions import BotoCoreError, ClientError

from lakewatch.aws.clients import ClientFactory
from lakewatch.aws.endpoint import EndpointError, invoke_pairs
from lakewatch.extract.export import PairSet
from lakewatch.lake.layout import Source, parse_key
from lakewatch.model.detectors import DetectorCache
from lakewatch.names import alert_marker_key, canary_findings_prefix
from lakewatch.scoring.caches import EntityRates, SuppressionCache, ThresholdCache
from lakewatch.scoring.errors import PoisonMessage, TransientError, shorten_reason
from lakewatch.scoring.events import ObjectRef, parse
from lakewatch.scoring.findings import ScoredPair, alert_message, findings_for
from lakewatch.scoring.incidents import (
    Ends,
    answered,
    connections,
    flagged_pairs,
    incident_finding,
    member_findings,
    other_end_findings,
)
from lakewatch.scoring.incidents import group as incidents_of
from lakewatch.scoring.pairs import object_pairs
from lakewatch.scoring.storage import findings_key, to_parquet

SCORED_SOURCES = {Source.VPC_FLOW.value, Source.ROUTE53.value}


@dataclass(frozen=True)
class ScorerConfig:
    endpoint_name: str
    threshold_parameter: str
    results_bucket: str
    region: str = "us-east-1"
    pairs: str = PairSet().key
    findings_prefix: str = "ext/lakewatch/"
    feedback_prefix: str = "feedback/"
    models_prefix: str = "models/"
    canary_prefix: str = "canary/"
    dlq_url: str = ""
    topic_arn: str = ""
    threshold_ttl_s: float = 60.0
    max_receive_count: int = 0  # the queue's redrive maxReceiveCount; 0: leave it to the queue

    ENV: ClassVar[dict[str, str]] = {
        "endpoint_name": "LAKEWATCH_ENDPOINT_NAME",
        "threshold_parameter": "LAKEWATCH_THRESHOLD_PARAMETER",
        "results_bucket": "LAKEWATCH_RESULTS_BUCKET",
        "region": "LAKEWATCH_REGION",
        "pairs": "LAKEWATCH_PAIRS",
        "findings_prefix": "LAKEWATCH_FINDINGS_PREFIX",
        "feedback_prefix": "LAKEWATCH_FEEDBACK_PREFIX",
        "models_prefix": "LAKEWATCH_MODELS_PREFIX",
        "canary_prefix": "LAKEWATCH_CANARY_PREFIX",
        "dlq_url": "LAKEWATCH_DLQ_URL",
        "topic_arn": "LAKEWATCH_FINDINGS_TOPIC_ARN",
        "threshold_ttl_s": "LAKEWATCH_THRESHOLD_TTL_S",
        "max_receive_count": "LAKEWATCH_MAX_RECEIVE_COUNT",
    }
    _NUMBERS: ClassVar[dict[str, type]] = {"threshold_ttl_s": float, "max_receive_count": int}

    @classmethod
    def from_env(cls, env: dict[str, str]) -> ScorerConfig:
        values: dict[str, Any] = {}
        for name, var in cls.ENV.items():
            if env.get(var):
                try:
                    values[name] = cls._NUMBERS.get(name, str)(env[var])
                except ValueError:
                    raise ValueError(f"{var}={env[var]!r} is not a number") from None
        missing = [
            cls.ENV[n]
            for n in ("endpoint_name", "threshold_parameter", "results_bucket")
            if n not in values
        ]
        if missing:
            raise ValueError(f"scorer configuration is missing {', '.join(missing)}")
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        return {
            var: str(getattr(self, name))
            for name, var in self.ENV.items()
            if getattr(self, name) not in ("", None, 0)
        }

    def last_attempt(self, receive_count: int) -> bool:
        """True when the queue would dead-letter the message rather than deliver it again."""
        return 0 < self.max_receive_count <= receive_count


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


def shifted(values: np.ndarray, views: list[str], offsets: dict[str, float]) -> np.ndarray:
    """Scores moved by their view's offset from the pooled threshold (per-view thresholds,
    when the recalibration adopted them): a pair is then flagged exactly when it is under its
    view's own threshold, whatever compares it downstream."""
    if not offsets:
        return values
    inbound = np.array([v == "ingress_peer" for v in views])
    return values - np.where(inbound, offsets.get("inbound", 0.0), offsets.get("outbound", 0.0))


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

    def _get(self, ref: ObjectRef) -> bytes:
        try:
            return self.clients("s3").get_object(Bucket=ref.bucket, Key=ref.key)["Body"].read()
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404"):
                raise TransientError(f"s3://{ref.bucket}/{ref.key} does not exist (yet)") from None
            if code in ("AccessDenied", "403"):
                raise TransientError(f"access denied reading s3://{ref.bucket}/{ref.key}") from None
            raise TransientError(f"reading s3://{ref.bucket}/{ref.key}: {code}") from None
        except BotoCoreError as err:
            raise TransientError(f"reading s3://{ref.bucket}/{ref.key}: {err}") from None

    def process_object(self, ref: ObjectRef) -> ObjectResult:
        result = ObjectResult(ref.bucket, ref.key)
        key = parse_key(ref.key)
        if key is None:
            result.skipped = "not a Security Lake data object (metadata, manifest or other)"
            return result
        if key.source not in SCORED_SOURCES:
            result.skipped = f"source {key.source} is not scored (VPC_FLOW and ROUTE53 are)"
            return result
        if key.version not in ("1.0", "2.0"):
            raise PoisonMessage(f"{ref.key}: unknown Security Lake source version {key.version}")
        body = self._get(ref)
        extracted = object_pairs(body, key, self.pair_set, self.config.region)
        result.rows = extracted.rows
        table = extracted.pairs
        counts = table["event_time_count"].to_pylist()
        result.candidates = sum(counts)
        statuses: Counter[str] = Counter()
        for status, n in zip(table["status"].to_pylist(), counts, strict=True):
            statuses[status] += n
        result.dropped = {s: n for s, n in statuses.items() if s not in self.pair_set.keep}
        kept = table.filter(pc.is_in(table["status"], pa.array(list(self.pair_set.keep))))
        if kept.num_rows == 0:
            return result
        # already one row per (entity, ip, view): a pair's status follows from the pair alone
        result.pairs = kept.num_rows
        threshold = self.thresholds.get()
        entities = kept["entity"].to_pylist()
        ips = kept["ip"].to_pylist()
        try:
            scores = invoke_pairs(
                self.clients("sagemaker-runtime"), self.config.endpoint_name, entities, ips
            )
        except EndpointError as err:
            raise TransientError(str(err)) from None
        views = kept["view"].to_pylist()
        values = shifted(
            self._combined(threshold, entities, ips, scores.dot_product),
            views,
            threshold.get("view_offsets") or {},
        )
        known = (
            scores.known_entity if scores.known_entity is not None else np.ones(len(entities), bool)
        )
        # Python values once per column (a numpy scalar a field costs a 1M-row object seconds)
        pairs = [
            ScoredPair(e, ip, view, None if s != s else s, k, n, first, last)
            for e, ip, view, s, k, n, first, last in zip(
                entities,
                ips,
                views,
                np.asarray(values, np.float64).tolist(),
                np.asarray(known, bool).tolist(),
                kept["event_time_count"].to_pylist(),
                kept["event_time_min"].to_pylist(),
                kept["event_time_max"].to_pylist(),
                strict=True,
            )
        ]
        silenced = self.suppressions.active()
        if silenced:
            kept_pairs = [
                p for p in pairs if not any(s.covers(p.entity, p.ip, p.view) for s in silenced)
            ]
            result.suppressed = len(pairs) - len(kept_pairs)
            pairs = kept_pairs
        now_ms = int(time.time() * 1000)
        reviewed = answered(pairs, unless_under=threshold["threshold"])
        findings = findings_for(
            reviewed, threshold=threshold, source=key, bucket=ref.bucket, now_ms=now_ms
        )
        incidents = incidents_of(
            pairs,
            threshold["threshold"],
            strict=threshold.get("strict_threshold"),
            rate=threshold.get("target_fpr"),
            entity_rates=self.entity_rates.get(threshold),
            loose=threshold.get("loose_threshold"),
        )
        ends = Ends(pairs, extracted.own_addresses)
        incidents += connections(ends, threshold["threshold"], threshold.get("loose_threshold"))
        findings += member_findings(
            incidents,
            threshold=threshold,
            source=key,
            bucket=ref.bucket,
            now_ms=now_ms,
        )
        findings += other_end_findings(
            ends,
            flagged_pairs(reviewed, incidents, threshold["threshold"]),
            threshold=threshold,
            source=key,
            bucket=ref.bucket,
            now_ms=now_ms,
        )
        result.anomalies = sum(
            1 for f in findings if f["unmapped"]["lakewatch.kind"] == "anomalous_pair"
        )
        result.unknown = len(findings) - result.anomalies
        result.incidents = len(incidents)
        findings += [
            incident_finding(i, threshold=threshold, source=key, bucket=ref.bucket, now_ms=now_ms)
            for i in incidents
        ]
        if findings:
            result.findings = self._write(findings, key, threshold)
            result.alerts = self._alert(findings)
        return result

    def _combined(
        self, threshold: dict[str, Any], entities: list[str], ips: list[str], dots: np.ndarray
    ) -> np.ndarray:
        """The score the threshold applies to: the detector's, or the bare dot product."""
        if threshold.get("score", "dot_product") != "detector":
            return dots
        try:
            found = self.detectors.get(threshold["model_id"])
        except (ClientError, BotoCoreError) as err:
            raise TransientError(
                f"reading the detector of {threshold['model_id']}: {err}"
            ) from None
        if found is None:
            raise TransientError(
                f"threshold {threshold.get('version')} is for the detector of model "
                f"{threshold['model_id']}, which has none published (yet)"
            )
        return found.score_pairs(entities, ips, dots)

    def _write(self, findings: list[dict[str, Any]], key, threshold: dict[str, Any]) -> str:
        prefix = (
            canary_findings_prefix(self.config.canary_prefix)
            if key.prefix == self.config.canary_prefix
            else self.config.findings_prefix
        )
        out = findings_key(prefix, key, threshold["model_id"])
        try:
            self.clients("s3").put_object(
                Bucket=self.config.results_bucket, Key=out, Body=to_parquet(findings)
            )
        except (ClientError, BotoCoreError) as err:
            raise TransientError(
                f"writing findings s3://{self.config.results_bucket}/{out}: {err}"
            ) from None
        return f"s3://{self.config.results_bucket}/{out}"

    def _alert(self, findings: list[dict[str, Any]]) -> int:
        """Publish each finding once per window: a conditional put marks it alerted."""
        if not self.config.topic_arn:
            return 0
        s3, sns, sent = self.clients("s3"), self.clients("sns"), 0
        for f in findings:
            if f["severity_id"] < 2:
                continue
            marker = alert_marker_key(self.config.findings_prefix, f["finding_info"]["uid"])
            try:
                s3.put_object(
                    Bucket=self.config.results_bucket, Key=marker, Body=b"", IfNoneMatch="*"
                )
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") == "PreconditionFailed":
                    continue  # already alerted in this window
                raise TransientError(f"alert marker {marker}: {err}") from None
            except BotoCoreError as err:
                raise TransientError(f"alert marker {marker}: {err}") from None
            try:
                sns.publish(
                    TopicArn=self.config.topic_arn,
                    Message=alert_message(f),
                    Subject=f["finding_info"]["title"][:100],
                )
            except (ClientError, BotoCoreError) as err:  # un-mark, so the retry alerts
                s3.delete_object(Bucket=self.config.results_bucket, Key=marker)
                raise TransientError(f"publishing to {self.config.topic_arn}: {err}") from None
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
