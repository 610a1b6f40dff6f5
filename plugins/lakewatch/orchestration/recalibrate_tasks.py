"""The steps of ``lakewatch_recalibrate``, one function per task, so its DAG file only wires.

Each step works on the run's night (the UTC day before it) with the task's settings and
clients, and turns the threshold code's refusals into Airflow's outcomes: no deployed model
skips the run; missing data and a refused threshold fail it without retry (retrying would not
make data appear or the threshold change).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from lakewatch.orchestration.assets import THRESHOLD
from lakewatch.orchestration.runtime import log, task_clients, task_settings

if TYPE_CHECKING:
    from lakewatch.threshold import recalibrate


def night(logical_date: datetime | None, dag_run: Any) -> date:
    """The night a run calibrates on: asset-triggered runs have no logical date."""
    from lakewatch.threshold import recalibrate

    return recalibrate.night_of(logical_date or dag_run.run_after)


def options(params: dict[str, Any]) -> recalibrate.Options:
    """The DAG's params as the recalibration's options."""
    from lakewatch.threshold import recalibrate

    return recalibrate.Options(
        target_fpr=params["target_fpr"],
        expected_anomaly_rate=params["expected_anomaly_rate"],
        min_auc=params["min_auc"],
        max_shift_iqr=params["max_shift_iqr"],
        override=params["override"],
        max_normal=params["max_normal"],
        min_normal=params["min_normal"],
    )


def prepare_sets(
    params: dict[str, Any], logical_date: datetime | None, dag_run: Any
) -> dict[str, Any]:
    """The normal and abnormal sets of the night, written beside its evidence."""
    from lakewatch.threshold import recalibrate

    settings = task_settings()
    try:
        out = recalibrate.prepare(
            settings, task_clients(settings), night(logical_date, dag_run), options(params)
        )
    except recalibrate.NoModelDeployed as err:  # a fresh install: nothing to calibrate
        raise AirflowSkipException(str(err)) from None
    except recalibrate.NOT_RETRYABLE as err:  # retrying will not make data appear
        raise AirflowFailException(f"{type(err).__name__}: {err}") from None
    log.info("sets for model %s: %s", out["model_id"], out["sizes"])
    for note in out["notes"]:
        log.info("  %s", note)
    return out


def score_sets(
    prepared: dict[str, Any], logical_date: datetime | None, dag_run: Any
) -> dict[str, Any]:
    """Every set's scores through the endpoint."""
    from lakewatch.threshold import recalibrate

    settings = task_settings()
    return recalibrate.score(
        settings, task_clients(settings), night(logical_date, dag_run), prepared["sets"]
    )


def choose_threshold(
    scored: dict[str, Any],
    params: dict[str, Any],
    logical_date: datetime | None,
    dag_run: Any,
    run_id: str,
) -> dict[str, Any]:
    """The threshold for the target rate, through the quality gate; a refusal fails the run."""
    from lakewatch.threshold import recalibrate

    settings = task_settings()
    try:
        record = recalibrate.choose(
            settings,
            task_clients(settings),
            night(logical_date, dag_run),
            scored["scores"],
            options(params),
            run_id,
        )
    except recalibrate.Refused as err:
        raise AirflowFailException(str(err)) from None
    for line in recalibrate.summary_lines(record):
        log.info(line)
    return {"threshold": record.threshold, "record": record.record_uri}


def publish(logical_date: datetime | None, dag_run: Any, outlet_events: Any) -> dict[str, Any]:
    """The chosen threshold into SSM, and the ``lakewatch_threshold`` event saying so."""
    from lakewatch.threshold import recalibrate

    settings = task_settings()
    record = recalibrate.publish_record(
        settings, task_clients(settings), night(logical_date, dag_run)
    )
    log.info(
        "published threshold %.4f as %s version %d",
        record.threshold,
        settings.threshold_parameter,
        record.version,
    )
    outlet_events[THRESHOLD].extra = record.compact() | {"version": record.version}
    return {"threshold": record.threshold, "version": record.version}
