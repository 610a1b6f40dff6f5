"""orchestration.extract_operator on aws, against the emulator's Athena (results seeded, as
Athena itself would return them): each statement is started with the attempt's token and the
task defers; resuming folds the results in and starts the next; the last publishes the day's
manifest; a failed query names its reason; a killed task or deferred trigger stops its query.
On local the same task runs DuckDB (the extract DAG's dag.test() end to end tests)."""

import asyncio
import json
import os
from collections import defaultdict
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowException, TaskDeferred

from lakewatch.extract.daily import results_store
from lakewatch.extract.export import PairSet, day_prefix, read_manifest
from lakewatch.orchestration.assets import TRAINING_PAIRS
from lakewatch.orchestration.extract_operator import ExtractDayOperator, StoppingAthenaTrigger
from lakewatch.orchestration.runtime import task_clients
from tests.extract.test_athena import _seed_athena

DAY, NEXT = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
PAIRS = PairSet(("egress_peer",))


@pytest.fixture
def on_aws(airflow_env, monkeypatch):
    settings, _ = airflow_env
    variable = json.loads(os.environ["AIRFLOW_VAR_LAKEWATCH"])
    monkeypatch.setenv("AIRFLOW_VAR_LAKEWATCH", json.dumps({**variable, "backend": "aws"}))
    # aws: every call goes where the connection points, here the emulator (aws_default)
    return settings.model_copy(update={"backend": "aws"}), settings.resolved_endpoint_url


def _context(try_number=1):
    events = defaultdict(lambda: SimpleNamespace(extra=None))
    return {
        "params": {"views": list(PAIRS.views), "include_ipv6": False},
        "data_interval_start": DAY,
        "data_interval_end": NEXT,
        "run_id": "scheduled__2026-11-02T00:00:00+00:00",
        "ti": SimpleNamespace(try_number=try_number),
        "outlet_events": events,
    }


def _result(header, *rows, types=None):
    return {
        "rows": [
            {"Data": [{"VarCharValue": v} for v in header]},
            *[{"Data": [{"VarCharValue": str(v)} for v in r]} for r in rows],
        ],
        "column_info": [{"Name": n, "Type": (types or {}).get(n, "varchar")} for n in header],
    }


def _deferred(call):
    with pytest.raises(TaskDeferred) as deferred:
        call()
    return deferred.value


def test_each_query_defers_and_the_last_publishes_the_day(on_aws):
    settings, emulator = on_aws
    counts = _result(
        ["view", "status", "rows", "entities"],
        ["egress_peer", "ok", 90, 5],
        ["egress_peer", "dash", 7, 1],
        types={"rows": "bigint", "entities": "bigint"},
    )
    splits = _result(
        ["split", "n", "entities"],
        ["train", 81, 5],
        ["validation", 9, 4],
        types={"n": "bigint", "entities": "bigint"},
    )
    _seed_athena(settings, emulator, [counts, {"rows": [], "column_info": []}, splits])
    clients = task_clients(settings)
    store = results_store(settings, clients)
    context = _context()
    op = ExtractDayOperator(task_id="extract_pairs", outlets=[TRAINING_PAIRS], poll_seconds=5)
    op.render_template_fields(context)
    assert op.counts_sql.lstrip().upper().startswith(("WITH", "SELECT"))
    assert op.unload_sql.startswith("UNLOAD (") and "attempt=" in op.unload_sql  # the UI's SQL

    first = _deferred(lambda: op.execute(context))
    assert isinstance(first.trigger, StoppingAthenaTrigger) and first.method_name == "resume"
    athena = clients("athena")
    qid = first.trigger.waiter_args["QueryExecutionId"]
    started = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
    assert started["Query"] == op.counts_sql
    assert started["QueryExecutionContext"]["Database"] == "amazon_security_lake_glue_db_us_east_1"

    done = {"status": "success", "value": qid}
    second = _deferred(lambda: op.resume(context, done, **first.kwargs))
    assert second.kwargs["step"] == "unload"
    unload = second.trigger.waiter_args["QueryExecutionId"]
    assert athena.get_query_execution(QueryExecutionId=unload)["QueryExecution"]["Query"] == (
        op.unload_sql
    )
    prefix = day_prefix(settings.extracts_prefix, "2.0", PAIRS, DAY.date())
    attempt = op.unload_sql.split("attempt=")[1].split("/")[0]
    for split in ("train", "validation"):  # what Athena's UNLOAD writes (moto runs no SQL)
        store.put(f"{prefix}attempt={attempt}/split={split}/part-0", b"i-1,10.0.0.1\n")
    third = _deferred(
        lambda: op.resume(context, {"status": "success", "value": unload}, **second.kwargs)
    )
    last = third.trigger.waiter_args["QueryExecutionId"]
    summary = op.resume(context, {"status": "success", "value": last}, **third.kwargs)

    assert summary["engine"] == "athena" and summary["rows"] == 90 and summary["entities"] == 5
    assert summary["queries"] == [qid, unload, last]
    manifest = read_manifest(store, prefix)
    assert manifest.parts["train"] == [f"{prefix}attempt={attempt}/split=train/part-0"]
    assert context["outlet_events"][TRAINING_PAIRS].extra["rows"] == 90


def test_a_failed_query_names_its_reason_and_a_kill_stops_the_query(on_aws):
    settings, _ = on_aws
    context = _context()
    op = ExtractDayOperator(task_id="extract_pairs", outlets=[TRAINING_PAIRS])
    op.render_template_fields(context)
    first = _deferred(lambda: op.execute(context))
    qid = first.trigger.waiter_args["QueryExecutionId"]
    with pytest.raises(AirflowException, match=f"Athena counts query {qid} did not succeed"):
        op.resume(context, {"status": "error", "value": qid, "message": "boom"}, **first.kwargs)

    athena = task_clients(settings)("athena")
    op.on_kill()  # killed in the worker: the query it started is stopped
    state = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
    assert state["State"] == "CANCELLED"

    retry, again = ExtractDayOperator(task_id="extract_pairs"), _context(try_number=2)
    retry.render_template_fields(again)
    second = _deferred(lambda: retry.execute(again))
    deferred_query = second.trigger.waiter_args["QueryExecutionId"]
    assert deferred_query != qid  # another try, another token, another query
    asyncio.run(second.trigger.on_kill())  # cleared while deferred: the triggerer stops it
    state = athena.get_query_execution(QueryExecutionId=deferred_query)["QueryExecution"]
    assert state["Status"]["State"] == "CANCELLED"
