"""The extract DAG's one task, the same on both backends: a day of Security Lake to pairs.

On ``aws`` the day is three Athena statements (``extract.athena.extract_statements``). Each is
started through the Amazon provider's ``AthenaHook`` with a client request token of the
attempt, and the task defers while Athena works: the wait runs in the triggerer, not in a
worker slot, and a user who clears or fails the deferred task stops the query
(``StoppingAthenaTrigger.on_kill``), as ``on_kill`` does while the task holds a worker. On
``local`` DuckDB runs the same views in the worker (the backend's ``sql_engine``). The
statements are template fields, rendered before the task runs, so the UI shows the SQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

from airflow.providers.amazon.aws.hooks.athena import AthenaHook
from airflow.providers.amazon.aws.triggers.athena import AthenaTrigger
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowSkipException

from lakewatch.backends import backend_for
from lakewatch.extract.athena import STEPS, apply, collect_parts, extract_statements, query_token
from lakewatch.extract.athena import results_table as athena_results
from lakewatch.extract.daily import DayPlan, plan_day, results_store, run_day
from lakewatch.extract.export import ExtractSummary, PairSet, publish
from lakewatch.extract.views import configured_views
from lakewatch.names import extract_attempt_prefix
from lakewatch.orchestration.runtime import attempt_id, log, task_clients, task_settings


class StoppingAthenaTrigger(AthenaTrigger):
    """The provider's Athena trigger, which also stops its query when a user kills the
    deferred task (not when the triggerer restarts: Airflow calls ``on_kill`` only then)."""

    async def on_kill(self) -> None:
        query = self.waiter_args["QueryExecutionId"]
        hook = AthenaHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
        await asyncio.to_thread(hook.stop_query, query)
        self.log.info("stopped Athena query %s: the task was killed", query)


class ExtractDayOperator(BaseOperator):
    """Extract the data interval's pairs with the views' SQL and publish the day's manifest."""

    template_fields: Sequence[str] = ("counts_sql", "unload_sql", "splits_sql")
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "counts_sql": "sql",
        "unload_sql": "sql",
        "splits_sql": "sql",
    }
    ui_color = "#44b5e2"

    def __init__(self, *, poll_seconds: int = 30, max_polls: int = 240, **kwargs: Any):
        """The views and IPv6 choice come from the DAG's params (``views``, ``include_ipv6``);
        each query is polled every ``poll_seconds``, at most ``max_polls`` times."""
        super().__init__(**kwargs)
        self.poll_seconds, self.max_polls = poll_seconds, max_polls
        self.counts_sql = self.unload_sql = self.splits_sql = ""
        self.query_execution_id: str | None = None

    # rendering: the statements of this interval and attempt, shown in the UI ---------------

    def _day(self, context: Any) -> DayPlan:
        params = context["params"]
        settings = task_settings()
        return plan_day(
            settings,
            context["data_interval_start"],
            context["data_interval_end"],
            PairSet(
                tuple(params["views"]) or configured_views(settings.pair_views),
                bool(params["include_ipv6"]),
            ),
            attempt_id(context["run_id"], context["ti"].try_number),
        )

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        super().render_template_fields(context, jinja_env)
        day = self._day(context)
        store = results_store(day.settings, task_clients(day.settings))
        target = store.uri(extract_attempt_prefix(day.prefix, day.attempt))
        statements = extract_statements(day.ctx, target)
        self.counts_sql = statements["counts"]
        self.unload_sql = statements["unload"]
        self.splits_sql = statements["splits"]

    # running ---------------------------------------------------------------------------------

    def execute(self, context: Any) -> dict:
        day = self._day(context)
        clients = task_clients(day.settings)
        engine = backend_for(day.settings).sql_engine(clients)
        if engine.name != "athena":  # DuckDB: the whole day here, in the worker
            store = results_store(day.settings, clients)
            return self._done(context, run_day(engine, store, day))
        day.summary.engine = engine.name
        return self._start("counts", context, day.summary)

    def _hook(self) -> AthenaHook:
        return AthenaHook(aws_conn_id=task_settings().aws_conn_id, log_query=False)

    def _start(self, step: str, context: Any, summary: ExtractSummary) -> dict:
        day = self._day(context)
        sql = {"counts": self.counts_sql, "unload": self.unload_sql, "splits": self.splits_sql}
        hook = self._hook()
        self.query_execution_id = hook.run_query(
            sql[step],
            {"Database": day.ctx.glue_database},
            {"OutputLocation": day.settings.athena_output_location},
            query_token(day.attempt, sql[step]),
            day.settings.athena_workgroup,
        )
        summary.queries.append(self.query_execution_id)
        log.info("Athena %s query %s started", step, self.query_execution_id)
        self.defer(
            trigger=StoppingAthenaTrigger(
                query_execution_id=self.query_execution_id,
                waiter_delay=self.poll_seconds,
                waiter_max_attempts=self.max_polls,
                aws_conn_id=day.settings.aws_conn_id,
            ),
            method_name="resume",
            kwargs={"step": step, "summary": summary.to_json()},
        )
        raise AssertionError("defer() raises TaskDeferred")  # pragma: no cover

    def resume(self, context: Any, event: dict[str, Any], step: str, summary: dict) -> dict:
        """Back from the triggerer: fold the finished step in, then start the next."""
        query = event.get("value") or self.query_execution_id or "?"
        if event.get("status") != "success":
            raise AirflowException(
                f"Athena {step} query {query} did not succeed: "
                f"{self._reason(query) or event.get('message')}"
            )
        day, done = self._day(context), ExtractSummary.from_json(summary)
        if step != "unload":
            pages = self._hook().get_query_results_paginator(query)
            if pages is None:
                raise AirflowException(f"Athena {step} query {query} has no results to read")
            apply(step, athena_results(pages), day.ctx.keep, done)
        following = STEPS[STEPS.index(step) + 1 :]
        if following:
            return self._start(following[0], context, done)
        store = results_store(day.settings, task_clients(day.settings))
        collect_parts(store, day.prefix, day.attempt, done)
        publish(store, day.prefix, done)
        return self._done(context, done)

    def _reason(self, query: str) -> str | None:
        """Athena's own words for a failed query (None when it gives none)."""
        try:
            return self._hook().get_state_change_reason(query)
        except (KeyError, AirflowException, OSError):
            return None

    def _done(self, context: Any, summary: ExtractSummary) -> dict:
        for line in summary.log_lines():
            log.info(line)
        if summary.rows == 0:
            raise AirflowSkipException(
                f"no pairs in Security Lake for {summary.day} ({summary.source_version} "
                "tables); nothing to train on"
            )
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = summary.asset_metadata()
        return summary.to_json()

    def on_kill(self) -> None:
        """Killed while holding a worker (between deferrals): stop the query it started."""
        if self.query_execution_id:
            self._hook().stop_query(self.query_execution_id)
            log.info("stopped Athena query %s: the task was killed", self.query_execution_id)
