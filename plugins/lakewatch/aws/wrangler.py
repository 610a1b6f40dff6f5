"""awswrangler for a client factory: a boto3 session with the factory's credentials and region,
and the factory's endpoints (the emulator's on ``local``, a test's overrides) for the call.

awswrangler builds its own clients from a session and reads endpoints from its global
``wr.config``, not from our factory; ``session`` sets both for the duration of one call and
restores them after, so the Glue table and the Athena read go where every other lakewatch
call goes. (Not thread-safe across concurrent calls with different endpoints: lakewatch makes
these calls from the CLI and one task at a time.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pyarrow as pa

from lakewatch.aws.clients import AwsClients

SERVICES = ("s3", "glue", "athena")


@contextmanager
def session(clients: AwsClients, region: str) -> Iterator[boto3.Session]:
    """A boto3 session signing as ``clients`` does, with awswrangler pointed at its endpoints."""
    import awswrangler as wr

    key, secret, token = clients.credentials()
    saved = {s: getattr(wr.config, f"{s}_endpoint_url") for s in SERVICES}
    try:
        for service in SERVICES:
            setattr(wr.config, f"{service}_endpoint_url", clients.endpoint_url(service))
        yield boto3.Session(
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            region_name=region,
        )
    finally:
        for service, url in saved.items():
            setattr(wr.config, f"{service}_endpoint_url", url)


def athena_table(
    clients: AwsClients,
    region: str,
    sql: str,
    *,
    database: str,
    workgroup: str,
    s3_output: str,
) -> pa.Table:
    """One query's result as Arrow, through ``awswrangler.athena.read_sql_query``: the plain
    result CSV (no CTAS, no UNLOAD), because the reader then needs only Athena, the table's
    Glue reads and the output location, and a day's findings are small."""
    import awswrangler as wr

    with session(clients, region) as boto3_session:
        df: Any = wr.athena.read_sql_query(
            sql,
            database=database,
            workgroup=workgroup,
            s3_output=s3_output,
            ctas_approach=False,
            unload_approach=False,
            keep_files=True,
            boto3_session=boto3_session,
        )
    return pa.Table.from_pandas(df, preserve_index=False)
