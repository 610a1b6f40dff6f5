"""The hourly Random Cut Forest step: a closed UTC hour of the whole lake, scored across objects.

The real-time scorer's RCF step (``scoring.rcf_scoring``) scores only the instance-hours an
object spans whole: a part of an hour would score as a quiet hour. A real Security Lake object
holds minutes of one account's one source, so on a real lake that step scores almost nothing.
``score_hour`` scores an hour once it is closed, from every object of it:

1. the hour's rows are ``rcf_features.sql``'s over ``[hour, hour + 1h)`` for the whole lake,
   VPC Flow *and* Route 53 (the training extract's own rows, nothing filled in), each with its
   instance's account (``rcf_accounts.sql``, the partition the records came from), on the
   backend's SQL engine (``training.rcf_plan.FeatureQuery``: DuckDB on ``local``, Athena on
   ``aws``, as ``threshold.rcf_recalibrate.heldout_scores`` runs it);
2. the RCF threshold is the one the real-time scorer reads (``names.rcf_threshold_parameter``),
   the profile ``features.json`` beside the threshold's model; either missing is
   ``NotReady`` (nothing to score with yet: the run skips, it does not fail);
3. each account's rows are scored through the RCF endpoint (``rcf_scoring.EndpointRcf``) into
   ``rcf_findings`` findings (explained by deviation: an endpoint gives scores only), each
   opening its instance-hour's incident (``rcf_incidents.join_rcf``);
4. each account's findings are one file in the findings' layout
   (``names.rcf_hour_findings_key``: ``region=/accountId=/eventDay=``, one PUT, so never half
   written; a rerun of the hour rewrites the same key, and an account left with no finding
   has its file removed), imported into Security Hub when the scorer would
   (``ScorerConfig.security_hub_findings``) and alerted through the scorer's own per-uid
   markers (``process.alert_findings``).

A finding's uid is the behaviour's (instance, ``rcf_features``, hour), whoever found it, so an
instance-hour the real-time scorer already found (an object that held the whole hour) is the
same finding: its alert marker is there and it is not alerted twice, and the review lists it
once (it dedupes by uid). Endpoint and S3 failures are ``TransientError``: the task's retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from botocore.exceptions import BotoCoreError, ClientError

from lakewatch.aws import securityhub
from lakewatch.aws.clients import ClientFactory
from lakewatch.extract import rcf_features
from lakewatch.extract.views import QueryContext, render
from lakewatch.lake.layout import LakeKey, Source, source_prefix
from lakewatch.names import rcf_hour_findings_key, rcf_threshold_parameter
from lakewatch.scoring.config import ScorerConfig
from lakewatch.scoring.errors import TransientError, shorten_reason
from lakewatch.scoring.process import alert_findings, import_findings, security_hub, write_findings
from lakewatch.scoring.rcf_findings import RcfScorer, rcf_findings
from lakewatch.scoring.rcf_incidents import join_rcf
from lakewatch.scoring.rcf_scoring import EndpointRcf, read_profile
from lakewatch.threshold.publish import read_published

if TYPE_CHECKING:  # the protocol only: the training package (and its numba) is not imported
    from lakewatch.training.rcf_plan import FeatureQuery

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
ACCOUNTS_TEMPLATE = "rcf_accounts.sql"


class NotReady(Exception):
    """Nothing to score the hour with yet: no RCF threshold published, or no profile beside
    its model."""


@dataclass
class HourResult:
    """What scoring one hour did."""

    hour: str  # the hour's start, ISO
    rows: int = 0  # instance-hours of the whole lake
    accounts: int = 0  # ... whose accounts were scored
    unassigned: int = 0  # instance-hours no account's records named (not scored)
    findings: int = 0  # RCF findings (instance-hours above the threshold)
    incidents: int = 0  # ... the incidents they open
    files: list[str] = field(default_factory=list)  # one per account with findings
    removed: int = 0  # an earlier run's files of accounts now without findings
    imported: int = 0
    not_imported: int = 0
    import_error: str = ""
    alerts: int = 0  # sent now (an instance-hour alerted before is not sent again)
    model_id: str = ""
    threshold: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        return (
            f"RCF hour {self.hour}: {self.rows:,} instance-hours of {self.accounts} account(s), "
            f"{self.findings} finding(s) above {self.threshold:.4f} (model {self.model_id}), "
            f"{len(self.files)} file(s), {self.alerts} alert(s) sent"
        )


def closed_hour(when: datetime, lag: timedelta = timedelta(0)) -> datetime:
    """The start of the last whole UTC hour that ended at least ``lag`` before ``when``: a run
    at 14:20 with a lag of 15 minutes scores 13:00-14:00; with 30 minutes, 12:00-13:00."""
    at = when.astimezone(UTC) - lag
    return at.replace(minute=0, second=0, microsecond=0) - HOUR


def hour_start(value: str) -> datetime:
    """An hour given by hand (``2026-11-05T03``, ``2026-11-05T03:00``, with or without a zone;
    UTC when none), as its start; a time inside an hour is refused (ValueError)."""
    text = value.strip()
    parsed = datetime.fromisoformat(text + ":00" if len(text) == 13 else text)
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if parsed.minute or parsed.second or parsed.microsecond:
        raise ValueError(f"{value!r} is not the start of an hour")
    return parsed


def hour_sql(ctx: QueryContext) -> str:
    """The interval's feature rows (Route 53 included) with their instance's account."""
    features = rcf_features.sql(ctx, dns=True)
    accounts = render(ACCOUNTS_TEMPLATE, ctx)
    return (
        f"SELECT r.*, a.account_id FROM ({features}) AS r "
        f"LEFT JOIN ({accounts}) AS a ON a.instance = r.instance "
        "ORDER BY r.instance, r.hour_start"
    )


def hour_rows(
    engine: FeatureQuery, *, region: str, source_version: str, hour: datetime
) -> pa.Table:
    """The hour's instance-hours of the whole lake (``hour_sql``'s rows)."""
    ctx = QueryContext(region=region, source_version=source_version, start=hour, end=hour + HOUR)
    return engine.query(hour_sql(ctx), ctx)


def hour_source(region: str, source_version: str, account_id: str, hour: datetime) -> LakeKey:
    """What an account's hour findings name as their source: a key in the account's VPC Flow
    partition of the day, named after the hour (``metadata.uid``'s piece)."""
    return LakeKey(
        Source.VPC_FLOW.value,
        source_version,
        region,
        account_id,
        f"{hour:%Y%m%d}",
        f"rcf-hour-{hour:%Y%m%dT%H}",
    )


def _partitions(bucket: str, source: LakeKey) -> list[str]:
    """The lake partitions an account's hour was read from (VPC Flow and Route 53)."""
    where = f"accountId={source.account_id}/eventDay={source.event_day}/"
    return [
        f"s3://{bucket}/{source_prefix(s, source.version, source.region)}{where}"
        for s in (Source.VPC_FLOW, Source.ROUTE53)
    ]


def score_hour(
    engine: FeatureQuery,
    clients: ClientFactory,
    config: ScorerConfig,
    hour: datetime,
    *,
    source_version: str,
    model: RcfScorer | None = None,
    now_ms: int | None = None,
) -> HourResult:
    """Score one closed hour of the whole lake and store, import and alert its findings (see
    the module's docstring); ``NotReady`` when there is nothing to score with yet.

    ``config`` is the scorer's (where findings go, the threshold parameter, the alerts topic,
    Security Hub); ``model`` defaults to ``config.rcf_endpoint_name``'s endpoint."""
    hour = hour_start(hour.isoformat())
    result = HourResult(hour=hour.isoformat())
    parameter = rcf_threshold_parameter(config.threshold_parameter)
    threshold = read_published(clients("ssm"), parameter)
    if threshold is None:
        raise NotReady(f"no RCF threshold published at {parameter} yet")
    result.model_id, result.threshold = threshold.model_id, threshold.threshold
    profile = read_profile(
        clients("s3"), config.results_bucket, config.models_prefix, threshold.model_id
    )
    if profile is None:
        raise NotReady(
            f"RCF model {threshold.model_id} (threshold {parameter}) has no feature profile "
            "published yet"
        )
    if model is None:
        if not config.rcf_endpoint_name:
            raise NotReady("no RCF endpoint configured")
        model = EndpointRcf(clients("sagemaker-runtime"), config.rcf_endpoint_name)
    rows = hour_rows(engine, region=config.region, source_version=source_version, hour=hour)
    result.rows = rows.num_rows
    if rows.num_rows == 0:
        return result
    accounts = rows["account_id"]
    result.unassigned = accounts.null_count
    if result.unassigned:
        log.warning(
            "%d instance-hour(s) of %s name no account: not scored", result.unassigned, hour
        )
    now = int(time.time() * 1000) if now_ms is None else now_ms
    hub = _lazy_hub(clients, config)
    s3 = clients("s3")
    for account in sorted(a for a in pc.unique(accounts).to_pylist() if a is not None):
        result.accounts += 1
        mine = rows.filter(pc.equal(accounts, account)).drop_columns(["account_id"])
        source = hour_source(config.region, source_version, account, hour)
        found = rcf_findings(
            mine,
            model=model,
            profile=profile,
            threshold=threshold,
            source=source,
            bucket=config.lake_bucket,
            now_ms=now,
        )
        key = rcf_hour_findings_key(config.findings_prefix, config.region, account, hour)
        if not found:
            result.removed += _remove(s3, config.results_bucket, key)
            continue
        read = _partitions(config.lake_bucket, source)
        for f in found:
            f["finding_info"]["data_sources"] = read
            f["unmapped"]["lakewatch.source_object"] = read[0]
        findings = join_rcf([], found)
        result.findings += len(found)
        result.incidents += len(findings) - len(found)
        uri = write_findings(s3, config.results_bucket, key, findings)
        result.files.append(uri)
        if config.security_hub_findings:
            done = import_findings(hub, findings, uri)
            result.imported += done.imported
            result.not_imported += done.not_imported
            if done.failed and not result.import_error:
                result.import_error = shorten_reason(done.first_error())
        result.alerts += alert_findings(clients, config, findings)
    return result


def _lazy_hub(clients: ClientFactory, config: ScorerConfig) -> Callable[[], securityhub.Hub]:
    """``process.security_hub``, asked for once, when the first import needs it."""
    made: list[securityhub.Hub] = []

    def hub() -> securityhub.Hub:
        if not made:
            made.append(security_hub(clients, config))
        return made[0]

    return hub


def _remove(s3: Any, bucket: str, key: str) -> int:
    """Delete an earlier run's file of an account that has no finding in the hour now (a
    threshold raised since); 1 when there was one."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return 0
        raise TransientError(f"looking for s3://{bucket}/{key}: {err}") from None
    except BotoCoreError as err:
        raise TransientError(f"looking for s3://{bucket}/{key}: {err}") from None
    try:
        s3.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as err:
        raise TransientError(f"removing s3://{bucket}/{key}: {err}") from None
    return 1
