"""lakewatch scorer: the SQS-triggered Lambda that turns new Security Lake objects into findings.

Each SQS record is one Security Lake notification. Records are processed with powertools'
BatchProcessor: a record that fails transiently is reported in ``batchItemFailures`` and comes
back from the queue; on its last receive (the queue's maxReceiveCount) it goes to the DLQ with
the last error as its reason; a poison record (malformed, corrupt object, unreadable schema)
goes to the DLQ at once with the reason; the rest of the batch is processed either way. The
queue's own redrive policy stays as the backstop for invocations that crash or time out.

Configuration: LAKEWATCH_ENDPOINT_NAME, LAKEWATCH_THRESHOLD_PARAMETER, LAKEWATCH_RESULTS_BUCKET,
LAKEWATCH_PAIRS, LAKEWATCH_DLQ_URL, LAKEWATCH_MAX_RECEIVE_COUNT, LAKEWATCH_FINDINGS_TOPIC_ARN
(optional), LAKEWATCH_SECURITY_HUB_FINDINGS (optional: findings also imported into Security
Hub, counted as FindingsImported and FindingsNotImported), LAKEWATCH_STEP_UP_EVENT_BUS
(optional: each unusual sign-in put on that EventBridge bus, counted as StepUpEventsSent and
StepUpEventsNotSent) and the rest of
``lakewatch.scoring.config.ScorerConfig``; under the local runtime,
LAKEWATCH_AWS_ENDPOINT_URL (the emulator) and LAKEWATCH_RUNTIME_ENDPOINT_URL (the model server).
"""

from __future__ import annotations

import functools
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lakewatch.aws.clients import lambda_clients
from lakewatch.scoring.config import ScorerConfig
from lakewatch.scoring.errors import PoisonMessage, TransientError
from lakewatch.scoring.process import ObjectResult, Scorer, send_to_dlq

logger = Logger(service="lakewatch-scorer")
metrics = Metrics(namespace="lakewatch", service="lakewatch-scorer")
tracer = Tracer(service="lakewatch-scorer", disabled=os.environ.get("LAKEWATCH_LOCAL") == "1")
# A batch whose every record failed transiently (an outage) still answers with every failed
# item, so FailedItems is emitted and each message is retried on its own schedule.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@functools.cache
def scorer() -> Scorer:
    """The execution environment's one scorer, built on its first record (a configuration
    error is raised there, and again on the next) and kept, with its caches, while it lives."""
    config = ScorerConfig.from_env(os.environ)
    clients = lambda_clients(
        os.environ.get("LAKEWATCH_AWS_ENDPOINT_URL"),
        config.region,
        runtime_endpoint_url=os.environ.get("LAKEWATCH_RUNTIME_ENDPOINT_URL"),
    )
    return Scorer(config, clients)


def _dead_letter(record: SQSRecord, reason: str, metric: str) -> None:
    """Send the record to the DLQ with why; the batch then deletes it from the queue."""
    logger.error("message sent to the DLQ", message_id=record.message_id, reason=reason)
    send_to_dlq(
        scorer().clients("sqs"), scorer().config.dlq_url, record.body, reason, record.message_id
    )
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    try:
        results = scorer().process_message(record.body)
    except PoisonMessage as err:
        _dead_letter(record, str(err), "PoisonMessages")
        return
    except TransientError as err:
        receives = int(record.attributes.approximate_receive_count or 1)
        if not scorer().config.last_attempt(receives):
            logger.error(
                "retrying: message goes back to the queue",
                message_id=record.message_id,
                object=err.object_uri or "unknown",
                error=str(err),
                receive_count=receives,
            )
            metrics.add_metric(name="FailedItems", unit=MetricUnit.Count, value=1)
            raise  # back to the queue: retried after the visibility timeout
        _dead_letter(record, f"gave up after {receives} receives: {err}", "ExhaustedMessages")
        return
    except Exception as err:  # a bug, not the message: retried, and loud about it
        logger.exception(
            "unexpected error: message goes back to the queue",
            message_id=record.message_id,
            error=f"{type(err).__name__}: {err}",
        )
        metrics.add_metric(name="FailedItems", unit=MetricUnit.Count, value=1)
        raise
    for r in results:
        if r.skipped:
            logger.info("skipped", key=r.key, reason=r.skipped)
            metrics.add_metric(name="SkippedObjects", unit=MetricUnit.Count, value=1)
            continue
        logger.info(
            "scored",
            key=r.key,
            rows=r.rows,
            pairs=r.pairs,
            anomalies=r.anomalies,
            incidents=r.incidents,
            unknown_entities=r.unknown,
            dropped=r.dropped,
            findings=r.findings,
        )
        metrics.add_metric(name="Objects", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Records", unit=MetricUnit.Count, value=r.rows)
        metrics.add_metric(name="Pairs", unit=MetricUnit.Count, value=r.pairs)
        metrics.add_metric(name="Anomalies", unit=MetricUnit.Count, value=r.anomalies)
        metrics.add_metric(name="Incidents", unit=MetricUnit.Count, value=r.incidents)
        metrics.add_metric(name="UnknownEntities", unit=MetricUnit.Count, value=r.unknown)
        metrics.add_metric(
            name="DroppedPairs", unit=MetricUnit.Count, value=sum(r.dropped.values())
        )
        if scorer().config.security_hub_findings:
            _security_hub_metrics(r)
        if r.step_up_sent or r.step_up_not_sent:
            _step_up_metrics(r)


def _security_hub_metrics(r: ObjectResult) -> None:
    """The object's Security Hub imports: a finding Security Hub did not take after the retries
    is stored all the same, counted here and logged with why (never a retry of the message)."""
    metrics.add_metric(name="FindingsImported", unit=MetricUnit.Count, value=r.imported)
    metrics.add_metric(name="FindingsNotImported", unit=MetricUnit.Count, value=r.not_imported)
    if r.not_imported:
        logger.warning(
            "findings not imported into Security Hub (stored in the results bucket)",
            key=r.key,
            not_imported=r.not_imported,
            imported=r.imported,
            error=r.import_error,
        )


def _step_up_metrics(r: ObjectResult) -> None:
    """The object's step-up events: one EventBridge did not take after the retries is counted
    here and logged with why (its finding is stored; never a retry of the message)."""
    metrics.add_metric(name="StepUpEventsSent", unit=MetricUnit.Count, value=r.step_up_sent)
    metrics.add_metric(name="StepUpEventsNotSent", unit=MetricUnit.Count, value=r.step_up_not_sent)
    if r.step_up_not_sent:
        logger.warning(
            "step-up events not put on the bus (their findings are stored)",
            key=r.key,
            not_sent=r.step_up_not_sent,
            sent=r.step_up_sent,
            error=r.step_up_error,
        )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
