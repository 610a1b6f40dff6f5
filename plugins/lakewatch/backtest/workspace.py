"""Where a backtest keeps what the loop writes: a private emulator and an in-process endpoint.

The DAG steps and the scorer take ``Settings`` and a client factory and write to S3 and SSM, as
on the local backend. A backtest gives them their own emulator (a moto server on a free loopback
port, in this process, gone when the backtest ends) so it never touches the user's stack or
lake, and an in-process SageMaker runtime instead of model-server processes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any

from moto.server import ThreadedMotoServer

from lakewatch.aws.clients import Boto3Clients
from lakewatch.local.bootstrap import ensure_bucket
from lakewatch.local.emulator import free_port
from lakewatch.local.inprocess import InProcessHosting, InProcessRuntime
from lakewatch.settings import Settings, load_settings


class Workspace:
    """A context: ``settings``, ``clients`` and ``hosting`` for the loop's steps."""

    def __init__(self, work_dir: Path, region: str = "us-east-1"):
        self.work_dir = work_dir
        self.region = region
        self.runtime = InProcessRuntime()
        self._server: ThreadedMotoServer | None = None

    def __enter__(self) -> Workspace:
        host, port = "127.0.0.1", free_port()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self._server.start()
        self.settings = load_settings(
            backend="local",
            region=self.region,
            emulator_host=host,
            emulator_port=port,
            endpoint_url=f"http://{host}:{port}",
            state_dir=self.work_dir,
        )
        self._boto = Boto3Clients(self.settings, emulator_credentials=True)
        ensure_bucket(self.clients("s3"), self.settings.results_bucket_name, self.region)
        self.hosting = InProcessHosting(self.runtime, self.settings)
        return self

    def clients(self, service: str) -> Any:
        """The emulator's clients; ``sagemaker-runtime`` is the in-process endpoint."""
        return self.runtime if service == "sagemaker-runtime" else self._boto(service)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def lake_settings() -> Settings:
    """The user's own settings, for reading an ``s3://`` lake with their credentials (``aws``)
    or from the running emulator (``local``)."""
    return load_settings()
