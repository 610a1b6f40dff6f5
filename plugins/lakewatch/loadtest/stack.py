"""The load test's own local stack: an emulator, a lake, a model server and the scorer runtime.

Everything runs on loopback in a state folder of the load test's own (``<out>/state``), so a
stack the user (or ``make demo``) runs beside it is never touched: its processes are in that
folder's registry and ``close`` stops those and nothing else. The ports are the settings'
(``LAKEWATCH_EMULATOR_PORT``, ``LAKEWATCH_MODEL_SERVER_PORT``); a port another program holds
is refused, as ``lakewatch local up`` refuses it.

The path under load is the local backend's own: ``LocalBackend.provision`` (the subscriber
queue with its redrive policy to the DLQ), the scorer's deployment zip unpacked and run by
``LocalBackend.deploy_scorer`` (the ``lakewatch scorer run`` process: the local SQS event
source mapping invoking the handler in its sandbox), the model behind the local router.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from lakewatch.backends import backend_for
from lakewatch.backends.local import LocalBackend
from lakewatch.extract.export import PairSet
from lakewatch.lake.layout import Source, parse_key
from lakewatch.lake.sink import S3Store
from lakewatch.lake.synthetic import GeneratedObject, GenerateOptions
from lakewatch.lake.write import write_lake
from lakewatch.local import emulator
from lakewatch.local.bootstrap import Resources
from lakewatch.local.endpoints import LocalEndpoints
from lakewatch.local.functions import LOCAL_PROCESS
from lakewatch.local.processes import ProcessRegistry
from lakewatch.model.artifact import ModelArtifact
from lakewatch.model.data import pairs_from_lists
from lakewatch.model.hyperparameters import resolve
from lakewatch.model.inference import Inference
from lakewatch.model.train import train
from lakewatch.scoring.pairs import object_pairs
from lakewatch.serving.lambda_config import scorer_config
from lakewatch.serving.lambda_package import build
from lakewatch.settings import Settings

MODEL_ID = "ipi-loadtest"
START = date(2026, 11, 1)
SCORED = (Source.VPC_FLOW.value, Source.ROUTE53.value)


@dataclass(frozen=True)
class StackOptions:
    rows_per_day: int = 20_000  # of the generated lake: day 1 trains, day 2's objects are scored
    accounts: int = 2
    seed: int = 7
    epochs: int = 2  # the small model's (throughput, not quality, is measured)
    flag_rate: float = 0.01  # the threshold: this quantile of the training pairs' scores
    # the subscriber queue's: a missing object is retried after the visibility timeout and
    # dead-lettered on its last receive, so these bound how long a bad notification takes
    visibility_timeout_s: int = 10
    max_receive_count: int = 2


@dataclass(frozen=True)
class LakeObject:
    key: str
    size: int
    rows: int


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_loopback(settings: Settings) -> None:
    """Refuse anything but the local backend on loopback addresses: a load test sends a
    stream of notifications, and never to AWS or another machine."""
    if backend_for(settings).name != "local":
        raise ValueError("the load test runs on the local backend only (LAKEWATCH_BACKEND)")
    url = settings.resolved_endpoint_url or ""
    parts = urlsplit(url)
    if not is_loopback(parts.hostname):
        raise ValueError(
            f"the emulator URL {url or '(none)'} is not a loopback address: the load test "
            "sends only to an emulator on 127.0.0.1"
        )
    if not is_loopback(settings.emulator_host) or not is_loopback(settings.model_server_host):
        raise ValueError(
            "the emulator and the model server must listen on loopback (LAKEWATCH_EMULATOR_HOST "
            f"{settings.emulator_host}, LAKEWATCH_MODEL_SERVER_HOST {settings.model_server_host})"
        )
    if settings.endpoint_url and (parts.port != settings.emulator_port):
        raise ValueError(
            f"LAKEWATCH_ENDPOINT_URL {url} is not the emulator the load test starts (port "
            f"{settings.emulator_port}): unset it, or set LAKEWATCH_EMULATOR_PORT to its port"
        )


class Stack:
    """A context: the stack up on enter (``objects``: the scored day's objects), down on exit."""

    def __init__(
        self,
        settings: Settings,
        work_dir: Path,
        options: StackOptions | None = None,
        log: Callable[[str], None] = print,
    ):
        require_loopback(settings)
        state = Path(work_dir).resolve() / "state"
        if state == settings.state_dir.resolve():
            raise ValueError(
                f"{state} is LAKEWATCH_STATE_DIR, another stack's state: the load test keeps "
                "its own, so choose another --out"
            )
        self.options = options or StackOptions()
        self.settings = settings.model_copy(
            update={
                "state_dir": state,
                "visibility_timeout_s": self.options.visibility_timeout_s,
                "max_receive_count": self.options.max_receive_count,
            }
        )
        self.log = log
        self.objects: list[LakeObject] = []
        self.threshold = 0.0

    def __enter__(self) -> Stack:
        try:
            self.close()  # what a killed run left in this folder's registry
            emulator.start(self.settings)
            self.local_backend = LocalBackend(self.settings)
            self.clients = self.local_backend.clients()
            self.resources: Resources = self.local_backend.provision(self.clients)
            self.log(f"emulator {self.settings.resolved_endpoint_url}; queue {self.queue_url}")
            # the scorer's runtime starts (a process importing the runtime) while this one
            # trains: the function reads the endpoint and threshold at its first record only
            with ThreadPoolExecutor(max_workers=1) as pool:
                deployed = pool.submit(self._deploy_scorer)
                try:
                    self._serve(self._write_lake())
                finally:
                    deployed.result()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the processes of this stack's registry: its own, nothing else."""
        ProcessRegistry(self.settings.run_dir).stop_all()

    @property
    def queue_url(self) -> str:
        return self.resources.queue_url

    @property
    def dlq_url(self) -> str:
        return self.resources.dlq_url

    @property
    def lake_bucket(self) -> str:
        return self.resources.lake_bucket

    @property
    def scorer_log(self) -> Path:
        """The scorer runtime's log: the mapping's lines and the handler's JSON lines."""
        record = ProcessRegistry(self.settings.run_dir).get(LOCAL_PROCESS)
        if record is None:
            raise RuntimeError("the scorer runtime is not deployed")
        return Path(record.log)

    def _write_lake(self) -> list[str]:
        """Two days: day 1's objects train the model, day 2's are what notifications name.
        Returns day 1's keys."""
        opts = self.options
        written: list[tuple[str, str, date, int]] = []  # key, source, day, rows

        def keep(obj: GeneratedObject) -> None:
            written.append((obj.key, obj.source.value, obj.day, obj.table.num_rows))

        summary = write_lake(
            GenerateOptions(
                days=2,
                start=START,
                rows_per_day=opts.rows_per_day,
                seed=opts.seed,
                accounts=opts.accounts,
                security_hub=False,
            ),
            S3Store(self.clients("s3"), self.lake_bucket),
            account_id=self.settings.account_id,
            on_object=keep,
        )
        day2 = START + timedelta(days=1)
        s3 = self.clients("s3")
        for key, source, day, rows in written:
            if source not in SCORED or day != day2:
                continue
            size = s3.head_object(Bucket=self.lake_bucket, Key=key)["ContentLength"]
            self.objects.append(LakeObject(key, size, rows))
        self.log(
            f"lake: {summary.objects} objects, {summary.total_rows:,} rows; "
            f"{len(self.objects)} scored objects of day 2"
        )
        if not self.objects:
            raise RuntimeError("the generated lake has no VPC Flow or Route 53 object on day 2")
        return [key for key, source, day, _ in written if source in SCORED and day == START]

    def _serve(self, training_keys: list[str]) -> None:
        """A small model on day 1's pairs behind the local router, its threshold in SSM."""
        s3 = self.clients("s3")
        ents: list[str] = []
        ips: list[str] = []
        for key in training_keys:
            parsed = parse_key(key)
            assert parsed is not None
            body = s3.get_object(Bucket=self.lake_bucket, Key=key)["Body"].read()
            pairs = object_pairs(body, parsed, PairSet(), self.settings.region).pairs
            ents += pairs["entity"].to_pylist()
            ips += pairs["ip"].to_pylist()
        result = train(
            pairs_from_lists(ents, ips),
            resolve(
                {"epochs": self.options.epochs, "vector_dim": 32, "mini_batch_size": 1000},
                distinct_entities=len(set(ents)),
            ),
            log=lambda s: None,
        )
        art = ModelArtifact.from_training(result)
        model_dir = self.settings.state_dir / "loadtest-model"
        art.save(model_dir)
        scores = Inference(art).score(ents, ips).dot_product
        self.threshold = float(np.nanquantile(scores, self.options.flag_rate))
        endpoints = LocalEndpoints(self.settings)
        endpoints.deploy(self.settings.endpoint_name, MODEL_ID, model_dir)
        self.clients("ssm").put_parameter(
            Name=self.settings.threshold_parameter,
            Type="String",
            Overwrite=True,
            Value=json.dumps({"threshold": self.threshold, "model_id": MODEL_ID}),
        )
        self.log(
            f"model {MODEL_ID}: {len(ents):,} training pairs, threshold {self.threshold:.4f}, "
            f"served at {self.settings.model_server_url}"
        )

    def _deploy_scorer(self) -> None:
        config = scorer_config(self.settings, self.clients, pairs=PairSet().key)
        deployed = self.local_backend.deploy_scorer(self.clients, build(), config)
        self.log(
            f"scorer {deployed.version} under the local event source mapping: {deployed.state}"
        )

    def scorer_config(self) -> Any:
        """The deployed function's configuration (for scoring the same objects in-process)."""
        return scorer_config(self.settings, self.clients, pairs=PairSet().key)
