"""The aws backend's SQL engine: Athena, with the same templates and the same results shape.

A day's extract is three statements (``extract_statements``): the counts by view and status,
an UNLOAD of the kept pairs as headerless CSV under the attempt's prefix, one sub-prefix per
split (``split=train/``, ``split=validation/``) as Athena's UNLOAD with ``partitioned_by``
writes them, and the rows and entities per split. ``AthenaRunner`` runs them one after the
other in the worker (scripts, tests); the extract DAG starts each and defers while Athena works
(``orchestration.extract_operator``). Both apply the results the same way (``apply``).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from lakewatch.extract.export import SPLITS, ExtractSummary, summarize_counts
from lakewatch.extract.views import QueryContext, render
from lakewatch.names import extract_attempt_prefix

_TYPES = {
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "int": pa.int32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "varchar": pa.string(),
    "string": pa.string(),
}


class AthenaQueryError(RuntimeError):
    """An Athena query that did not succeed, with Athena's reason."""


class _Ended(AthenaQueryError):
    """The query failed or was cancelled: there is nothing left to stop."""


STEPS = ("counts", "unload", "splits")


def query_token(salt: str, sql: str) -> str:
    """Athena's ClientRequestToken: the same statement of the same attempt rejoins its query."""
    return hashlib.sha256(f"{salt}\n{sql}".encode()).hexdigest()[:64]


def unload_sql(select_sql: str, target: str, partitioned_by: str) -> str:
    """UNLOAD a SELECT to headerless CSV under ``target`` (which must be empty)."""
    return (
        f"UNLOAD ({select_sql})\nTO '{target.rstrip('/')}/'\n"
        "WITH (format = 'TEXTFILE', field_delimiter = ',', compression = 'NONE', "
        f"partitioned_by = ARRAY['{partitioned_by}'])"
    )


def extract_statements(ctx: QueryContext, target: str) -> dict[str, str]:
    """The day's three Athena statements, by step; ``target`` is the attempt's s3:// prefix."""
    extract_sql = render("extract.sql", ctx)
    return {
        "counts": render("counts.sql", ctx),
        "unload": unload_sql(
            f"SELECT entity, ip, split FROM ({extract_sql}) AS extract", target, "split"
        ),
        "splits": "SELECT split, count(*) AS n, count(DISTINCT entity) AS entities "
        f"FROM ({extract_sql}) AS extract GROUP BY split",
    }


def apply(step: str, table: pa.Table, keep: tuple[str, ...], summary: ExtractSummary) -> None:
    """Fold a finished step's results into the day's summary."""
    if step == "counts":
        summarize_counts(table, keep, summary)
    elif step == "splits":
        rows = table.to_pylist()
        summary.split_rows = {r["split"]: int(r["n"]) for r in rows}
        summary.rows = sum(summary.split_rows.values())
        summary.entities = max([int(r["entities"]) for r in rows] or [0])


def collect_parts(store: Any, prefix: str, attempt: str, summary: ExtractSummary) -> None:
    """The parts the UNLOAD wrote, by split, into the summary the manifest publishes."""
    where = extract_attempt_prefix(prefix, attempt)
    for split in SPLITS:
        summary.parts[split] = sorted(
            k for k in store.list(f"{where}split={split}/") if not k.endswith("/")
        )
    summary.attempt = attempt


def results_table(pages: Iterable[dict[str, Any]]) -> pa.Table:
    """Every row of a finished query's result pages, typed from Athena's column metadata."""
    columns: list[tuple[str, pa.DataType]] = []
    rows: list[list[str | None]] = []
    first = True
    for page in pages:
        if not columns:
            meta = page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
            columns = [
                (c["Name"], _TYPES.get(c.get("Type", "varchar").lower(), pa.string())) for c in meta
            ]
        for row in page["ResultSet"].get("Rows", []):
            values = [d.get("VarCharValue") for d in row["Data"]]
            if first:  # Athena repeats the header as the first row of a SELECT
                first = False
                if values == [name for name, _ in columns]:
                    continue
            rows.append(values)
    arrays = {
        name: pa.array([r[i] for r in rows], pa.string()).cast(typ)
        for i, (name, typ) in enumerate(columns)
    }
    return pa.table(arrays) if arrays else pa.table({})


class AthenaRunner:
    name = "athena"

    def __init__(
        self,
        athena: Any,
        output_location: str,
        workgroup: str = "primary",
        poll_seconds: float = 2.0,
        timeout_seconds: float = 3600.0,
    ):
        self.athena = athena
        self.output = output_location.rstrip("/") + "/"
        self.workgroup = workgroup
        self.poll = poll_seconds
        self.timeout = timeout_seconds
        self.query_ids: list[str] = []

    def run(self, sql: str, database: str, token_salt: str = "") -> str:
        """Start (or, for the same SQL and salt, rejoin) a query and wait for it."""
        token = query_token(token_salt, sql)
        qid = self.athena.start_query_execution(
            QueryString=sql,
            ClientRequestToken=token,
            QueryExecutionContext={"Database": database},
            ResultConfiguration={"OutputLocation": self.output},
            WorkGroup=self.workgroup,
        )["QueryExecutionId"]
        self.query_ids.append(qid)
        try:
            return self._wait(qid)
        except _Ended:
            raise
        except BaseException:
            # killed by on-call (Airflow raises AirflowTaskTerminated on SIGTERM), timed out or
            # failed: a query left running keeps scanning, and billing, for nobody
            self._stop(qid)
            raise

    def _stop(self, qid: str) -> None:
        # already finished, or Athena unreachable: nothing more to do
        with contextlib.suppress(Exception):
            self.athena.stop_query_execution(QueryExecutionId=qid)

    def _wait(self, qid: str) -> str:
        deadline = time.monotonic() + self.timeout
        while True:
            status = self.athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"][
                "Status"
            ]
            state = status["State"]
            if state == "SUCCEEDED":
                return qid
            if state in ("FAILED", "CANCELLED"):
                raise _Ended(
                    f"Athena query {qid} {state}: "
                    f"{status.get('StateChangeReason', 'no reason given')}"
                )
            if time.monotonic() > deadline:
                raise AthenaQueryError(
                    f"Athena query {qid} still {state} after {self.timeout:.0f}s; stopping it"
                )
            time.sleep(self.poll)

    def results(self, qid: str) -> pa.Table:
        """Every row of a finished query, typed from Athena's column metadata."""
        return results_table(
            self.athena.get_paginator("get_query_results").paginate(QueryExecutionId=qid)
        )

    def query(self, sql: str, ctx: QueryContext, token_salt: str = "") -> pa.Table:
        return self.results(self.run(sql, ctx.glue_database, token_salt))

    def extract(
        self, ctx: QueryContext, store: Any, prefix: str, attempt: str, summary: ExtractSummary
    ) -> None:
        """The day's statements one after the other, waiting for each."""
        target = store.uri(extract_attempt_prefix(prefix, attempt))
        for step, sql in extract_statements(ctx, target).items():
            qid = self.run(sql, ctx.glue_database, attempt)
            apply(step, self.results(qid) if step != "unload" else pa.table({}), ctx.keep, summary)
        collect_parts(store, prefix, attempt, summary)
        summary.queries.extend(self.query_ids)
