"""The steps of ``lakewatch_scorer_check``, one function per task, so its DAG file only wires.

A check that finds the scorer broken fails its task without retry (``AirflowFailException``):
the hourly run is the retry, and on-call hears of the failed run either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from lakewatch.orchestration.runtime import log, task_clients, task_settings

if TYPE_CHECKING:
    from lakewatch.serving.canary import QueueHealth


CONSUMING = ("Enabled", "Running")  # the mapping's states that feed the queue to the scorer


def canary(params: dict[str, Any], run_id: str) -> dict[str, Any]:
    """A known-normal and a known-anomalous flow through the scorer: exactly one finding."""
    from lakewatch.serving.canary import CheckFailed, run_canary

    settings = task_settings()
    try:
        result = run_canary(settings, task_clients(settings), run_id, timeout_s=params["timeout_s"])
    except CheckFailed as err:
        raise AirflowFailException(f"scorer canary failed: {err}") from None
    log.info(
        "canary: (%s, %s) flagged and (%s, %s) not, %.1fs after notification (%s)",
        result.entity,
        result.anomalous_ip,
        result.entity,
        result.normal_ip,
        result.seconds,
        result.findings_uri,
    )
    return {"seconds": result.seconds, "findings": result.findings_uri}


def queue_health(params: dict[str, Any]) -> dict[str, Any]:
    """The queues' depths and the mapping's state; fails on any of ``problems``."""
    from lakewatch.backends import backend_for
    from lakewatch.serving.canary import queue_health as health

    settings = task_settings()
    clients = task_clients(settings)
    result = health(settings, clients, backend_for(settings).scorer_mapping_state(clients))
    log.info(
        "queue %d messages, DLQ %d messages, mapping %s",
        result.queue_depth,
        result.dlq_depth,
        result.mapping,
    )
    found = problems(result, settings.dlq_name, params["max_dlq_messages"])
    if found:
        raise AirflowFailException("; ".join(found))
    return result.to_json()


def problems(result: QueueHealth, dlq_name: str, max_dlq_messages: int) -> list[str]:
    """What on-call must act on: messages the scorer gave up on (beyond what the check
    tolerates), and a scorer that does not consume the queue."""
    found = []
    if result.dlq_depth > max_dlq_messages:
        found.append(
            f"the dead-letter queue {dlq_name} holds "
            f"{result.dlq_depth} messages: read their lakewatch-error "
            "attribute, fix, then redrive (docs/operate.md)"
        )
    if result.mapping not in CONSUMING:
        found.append(f"scorer not consuming: {result.mapping}")
    return found
