"""extract.athena: the aws backend's SQL engine against the emulator's S3 with Athena stubbed at
the service boundary: the same extract, Athena's failure reason, and a killed extract stopping
its query."""

import json
import urllib.request
from datetime import UTC, datetime

import pytest

from lakewatch.aws.clients import Boto3Clients
from lakewatch.extract.athena import AthenaQueryError, AthenaRunner
from lakewatch.extract.daily import extract_day, results_store
from lakewatch.extract.export import PairSet, day_prefix

DAY = datetime(2026, 11, 2, tzinfo=UTC)


NEXT = datetime(2026, 11, 3, tzinfo=UTC)


def _seed_athena(settings, endpoint, results):
    body = json.dumps(
        {"account_id": settings.account_id, "region": settings.region, "results": results}
    ).encode()
    url = f"{endpoint}/moto-api/static/athena/query-results"
    urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST")).close()


def _rows(header, *rows):
    return [
        {"Data": [{"VarCharValue": v} for v in header]},
        *[{"Data": [{"VarCharValue": str(v)} for v in r]} for r in rows],
    ]


def test_athena_extract_against_the_emulator(aws, clients):
    """The aws engine's calls, validated by botocore against Athena's API, with seeded results."""
    local, _ = aws
    _seed_athena_at = local.resolved_endpoint_url
    settings = local.model_copy(update={"backend": "aws"})
    col = [
        {"Name": n, "Type": t}
        for n, t in (
            ("view", "varchar"),
            ("status", "varchar"),
            ("rows", "bigint"),
            ("entities", "bigint"),
        )
    ]
    _seed_athena(
        settings,
        _seed_athena_at,
        [
            {
                "rows": _rows(
                    ["view", "status", "rows", "entities"],
                    ["egress_peer", "ok", 90, 5],
                    ["egress_peer", "dash", 7, 1],
                ),
                "column_info": col,
            },
            {"rows": [], "column_info": []},  # the UNLOAD
            {
                "rows": _rows(["split", "n", "entities"], ["train", 81, 5], ["validation", 9, 4]),
                "column_info": [
                    {"Name": "split", "Type": "varchar"},
                    {"Name": "n", "Type": "bigint"},
                    {"Name": "entities", "Type": "bigint"},
                ],
            },
        ],
    )
    store = results_store(settings, clients)
    prefix = day_prefix(settings.extracts_prefix, "2.0", PairSet(("egress_peer",)), DAY.date())
    # what Athena's UNLOAD would have written (moto does not run SQL)
    for split in ("train", "validation"):
        store.put(f"{prefix}attempt=run1/split={split}/part-0", b"i-1,10.0.0.1\n")
    emulated = Boto3Clients(local, endpoint_overrides={"athena": _seed_athena_at})
    runner = AthenaRunner(emulated("athena"), settings.athena_output_location, poll_seconds=0.01)
    summary = extract_day(runner, store, settings, DAY, NEXT, PairSet(("egress_peer",)), "run1")
    assert summary.engine == "athena" and summary.rows == 90 and summary.entities == 5
    assert summary.dropped == {"'-' entity or address (NAT/Lambda/Fargate ENI, NODATA)": 7}
    assert summary.parts["train"] == [f"{prefix}attempt=run1/split=train/part-0"]
    athena = emulated("athena")
    queries = [
        athena.get_query_execution(QueryExecutionId=q)["QueryExecution"] for q in summary.queries
    ]
    unload = [q for q in queries if q["Query"].startswith("UNLOAD")]
    assert len(unload) == 1
    assert f"TO 's3://{settings.results_bucket_name}/{prefix}attempt=run1/'" in unload[0]["Query"]
    assert "partitioned_by = ARRAY['split']" in unload[0]["Query"]
    assert all(
        q["QueryExecutionContext"]["Database"] == "amazon_security_lake_glue_db_us_east_1"
        for q in queries
    )


def test_athena_failure_names_the_reason():
    class FakeAthena:
        def start_query_execution(self, **kw):
            return {"QueryExecutionId": "q1"}

        def get_query_execution(self, **kw):
            return {
                "QueryExecution": {
                    "Status": {"State": "FAILED", "StateChangeReason": "TABLE_NOT_FOUND: line 1:15"}
                }
            }

    runner = AthenaRunner(FakeAthena(), "s3://out/", poll_seconds=0)
    with pytest.raises(AthenaQueryError, match="q1 FAILED: TABLE_NOT_FOUND"):
        runner.run("SELECT 1", "db")


def test_a_killed_extract_stops_its_athena_query():
    """On-call kills the task mid-query (Airflow raises AirflowTaskTerminated on SIGTERM):
    the query is stopped, not left scanning, and the kill still ends the task."""
    from airflow.sdk.exceptions import AirflowTaskTerminated

    class RunningAthena:
        def __init__(self):
            self.stopped: list[str] = []

        def start_query_execution(self, **kw):
            return {"QueryExecutionId": "q7"}

        def get_query_execution(self, **kw):
            raise AirflowTaskTerminated("Task killed")

        def stop_query_execution(self, QueryExecutionId):
            self.stopped.append(QueryExecutionId)

    athena = RunningAthena()
    with pytest.raises(AirflowTaskTerminated):
        AthenaRunner(athena, "s3://out/", poll_seconds=0).run("SELECT 1", "db")
    assert athena.stopped == ["q7"]
