"""Lambda's SQS event source mapping, locally: poll, batch, invoke the handler, delete.

Like the real mapping: up to ``batch_size`` messages are gathered for at most
``batching_window_s``; the handler gets the same event shape Lambda sends; messages the handler
reports in ``batchItemFailures`` (or all of them, if it raises) are left alone, so they
reappear after the queue's visibility timeout and, after ``maxReceiveCount`` receives, move to
the dead-letter queue by the queue's own redrive policy. Everything else is deleted.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger("lakewatch.scoring.runtime")
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class LambdaContext:
    """The attributes of Lambda's context object that handlers (and powertools) read."""

    def __init__(self, function_name: str, region: str, account: str, timeout_s: float):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.memory_limit_in_mb = 2048
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(app_dir: Path, name: str = "app.lambda_handler") -> Handler:
    """Import ``app.py`` from a deployment package folder, as Lambda does."""
    module_name, _, attr = name.rpartition(".")
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    spec = importlib.util.spec_from_file_location(module_name, app_dir / f"{module_name}.py")
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no {module_name}.py in {app_dir}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, attr)


# The sandbox's own loop: import the handler from the function's files (the working folder),
# answer one JSON invocation per line. The handler's prints and logs go to stderr, so the
# protocol owns stdout. It imports nothing of the runtime: the function sees only its zip.
_SANDBOX = r"""
import importlib, json, os, sys, time
protocol, sys.stdout = sys.stdout, sys.stderr
sys.path.insert(0, os.getcwd())
module, _, attr = sys.argv[1].rpartition(".")
handler = getattr(importlib.import_module(module), attr)

class Context:
    def __init__(self, fields):
        self.__dict__.update(fields)
    def get_remaining_time_in_millis(self):
        return max(0, int((self.deadline - time.time()) * 1000))

for line in sys.stdin:
    call = json.loads(line)
    try:
        answer = {"response": handler(call["event"], Context(call["context"]))}
    except Exception as err:
        answer = {"error": f"{type(err).__name__}: {err}"}
    protocol.write(json.dumps(answer) + "\n")
    protocol.flush()
"""


class InvocationError(RuntimeError):
    """The function failed the invocation: it raised, crashed or ran out of time."""


# What Lambda's Python runtime puts on the path beside the function and its layers.
RUNTIME_PACKAGES = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
)


def runtime_packages(target: Path) -> Path:
    """A folder holding only what Lambda's Python runtime provides (boto3 and its
    dependencies), linked from this environment: the function's other imports must come
    from its zip or its layer."""
    target.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PACKAGES:
        dist = metadata.distribution(name)
        tops = {
            Path(str(f)).parts[0]
            for f in dist.files or []
            if not Path(str(f)).parts[0].endswith((".dist-info", ".egg-info"))
            and not str(f).startswith("..")
        }
        for top in tops:
            source = Path(str(dist.locate_file(top)))
            link = target / top
            if source.exists() and not link.exists():
                link.symlink_to(source)
        if not tops:
            raise FileNotFoundError(f"{name} is not installed here")
    return target


class SandboxHandler:
    """Invoke a deployed function in its own process, from its own files, as Lambda runs it
    apart from its runtime: the process imports ``app.py`` and the ``lakewatch`` modules of
    the unpacked zip (``PYTHONPATH`` is the app folder first, so a module the zip left out
    fails the import), stays warm between invocations, and is started afresh after a crash
    or a timeout.

    With ``layer_dir`` (an unpacked ``layer.zip``) the process sees what Lambda would and
    nothing more: no site-packages, only the function, the layer's ``python/`` and the
    runtime's own boto3 (``runtime_packages``)."""

    def __init__(
        self,
        app_dir: Path,
        name: str = "app.lambda_handler",
        env=None,
        layer_dir: Path | None = None,
    ):
        self.app_dir, self.name = Path(app_dir), name
        self.layer_dir = Path(layer_dir) if layer_dir else None
        self.env = dict(env if env is not None else os.environ)
        self._runtime: Path | None = None
        self._proc: subprocess.Popen[str] | None = None

    def _path(self) -> str:
        path = [str(self.app_dir)]
        if self.layer_dir is not None:
            if self._runtime is None:
                self._runtime = Path(tempfile.mkdtemp(prefix="lakewatch-lambda-runtime-"))
                runtime_packages(self._runtime)
            path += [str(self.layer_dir / "python"), str(self._runtime)]
        return os.pathsep.join(path)

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            isolated = ["-S", "-s"] if self.layer_dir is not None else []  # no site-packages
            self._proc = subprocess.Popen(
                [sys.executable, *isolated, "-c", _SANDBOX, self.name],
                cwd=self.app_dir,
                env={**self.env, "PYTHONPATH": self._path()},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        return self._proc

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        proc = self._start()
        fields = {k: v for k, v in vars(context).items() if not k.startswith("_")}
        fields["deadline"] = time.time() + context.get_remaining_time_in_millis() / 1000
        assert proc.stdin is not None and proc.stdout is not None
        stdout = proc.stdout
        try:
            proc.stdin.write(json.dumps({"event": event, "context": fields}) + "\n")
            proc.stdin.flush()
        except BrokenPipeError:
            self.close()
            raise InvocationError("the function's process had exited") from None
        answer: list[str] = []
        reader = threading.Thread(target=lambda: answer.append(stdout.readline()))
        reader.start()
        reader.join(timeout=context.get_remaining_time_in_millis() / 1000 + 1)
        if reader.is_alive() or not answer or not answer[0]:
            timed_out = reader.is_alive()
            self.close()
            raise InvocationError(
                "the function timed out" if timed_out else "the function's process exited"
            )
        result = json.loads(answer[0])
        if "error" in result:
            raise InvocationError(result["error"])
        return result["response"]

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        if self._runtime is not None:
            shutil.rmtree(self._runtime, ignore_errors=True)
            self._runtime = None


def to_lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    attrs = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            k: attrs[k]
            for k in (
                "ApproximateReceiveCount",
                "SentTimestamp",
                "SenderId",
                "ApproximateFirstReceiveTimestamp",
            )
            if k in attrs
        },
        "messageAttributes": {
            name: {
                "stringValue": v.get("StringValue"),
                "binaryValue": v.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": v["DataType"],
            }
            for name, v in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


@dataclass
class RuntimeStats:
    batches: int = 0
    received: int = 0
    deleted: int = 0
    failed: int = 0
    failed_invocations: list[str] = field(default_factory=list)  # the whole batch came back


class EventSourceMapping:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        handler: Handler,
        *,
        region: str,
        account: str,
        function_name: str = "lakewatch-scorer",
        batch_size: int = 10,
        batching_window_s: float = 1.0,
        function_timeout_s: float = 300.0,
    ):
        if not 1 <= batch_size <= 10:
            raise ValueError("batch_size must be 1..10 (SQS receives at most 10 at a time)")
        self.sqs, self.queue_url, self.handler = sqs, queue_url, handler
        self.region, self.account, self.function_name = region, account, function_name
        self.batch_size, self.window, self.timeout = (
            batch_size,
            batching_window_s,
            function_timeout_s,
        )
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.stats = RuntimeStats()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def _receive(self, wait_s: float) -> list[dict[str, Any]]:
        """Long-poll for a first message, then gather more until the batch is full or the
        batching window (counted from the first message) closes."""
        messages: list[dict[str, Any]] = []
        deadline: float | None = None
        while len(messages) < self.batch_size and not self._stop.is_set():
            if deadline is None:
                wait = int(min(max(wait_s, 0), 20))
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                wait = int(min(left, 20))
            got = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.batch_size - len(messages),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if got:
                messages.extend(got)
                deadline = deadline or time.monotonic() + self.window
            elif deadline is None:
                return []  # the queue is empty
            else:
                time.sleep(0.05)
        return messages

    def poll_once(self, wait_s: float = 1.0) -> int:
        """One batch: returns how many messages it received (0 when the queue was empty)."""
        messages = self._receive(wait_s)
        if not messages:
            return 0
        self.stats.batches += 1
        self.stats.received += len(messages)
        event = {"Records": [to_lambda_record(m, self.queue_arn, self.region) for m in messages]}
        context = LambdaContext(self.function_name, self.region, self.account, self.timeout)
        try:
            response = self.handler(event, context) or {}
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        except Exception as err:  # the whole invocation failed: every message comes back
            log.exception("handler failed; the batch returns to the queue")
            self.stats.failed_invocations.append(f"{type(err).__name__}: {err}")
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        for i in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]}
                    for j, m in enumerate(done[i : i + 10])
                ],
            )
        self.stats.deleted += len(done)
        self.stats.failed += len(failed)
        return len(messages)

    def run(self, idle_exit_s: float | None = None, wait_s: float = 2.0) -> RuntimeStats:
        """Poll until stopped (SIGTERM/SIGINT), or until the queue stays empty long enough."""
        idle_since = time.monotonic()
        while not self._stop.is_set():
            if self.poll_once(wait_s):
                idle_since = time.monotonic()
            elif idle_exit_s is not None and time.monotonic() - idle_since >= idle_exit_s:
                break
        return self.stats


def run_forever(mapping: EventSourceMapping) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: mapping.stop())
    print(
        f"polling {mapping.queue_url} for {mapping.function_name} (batch size "
        f"{mapping.batch_size}, window {mapping.window}s)",
        flush=True,
    )
    stats = mapping.run()
    print(json.dumps(stats.__dict__), flush=True)
