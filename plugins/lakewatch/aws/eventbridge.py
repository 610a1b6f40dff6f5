"""Events on an EventBridge bus (``PutEvents``), retried with backoff, failures returned.

The scorer's step-up signal (``scoring.signin_findings.step_up_entry``) goes this way once the
findings are stored: batches of at most ``MAX_BATCH`` entries; a call that is throttled or
fails on the service's side (after botocore's own retries, ``aws.clients.RETRIES``), and each
failed entry worth another try (``ThrottlingException``, ``InternalFailure``), is retried with
exponential backoff, ``max_attempts`` calls in all, as ``aws.securityhub.import_findings``
retries an import. What still fails is returned in ``Put.failed``, never raised: the finding is
stored already, and the caller counts the event that did not go.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

MAX_BATCH = 10  # entries per PutEvents call
MAX_ENTRY_BYTES = 256 * 1024
RETRYABLE = frozenset(
    {
        "ThrottlingException",
        "InternalFailure",
        "InternalException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
    }
)


@dataclass
class Put:
    """What a put did: entries EventBridge took, and each one it did not with the last error
    (after the retries), by the caller's key."""

    sent: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    retries: int = 0

    @property
    def not_sent(self) -> int:
        return len(self.failed)

    def first_error(self) -> str:
        return next(iter(self.failed.values()), "")


def _size(entry: dict[str, Any]) -> int:
    return len(json.dumps(entry, separators=(",", ":")).encode())


def put_events(
    client: Any,
    entries: Sequence[tuple[str, dict[str, Any]]],
    *,
    max_attempts: int = 3,
    base_delay: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
) -> Put:
    """Put ``entries`` ((key, ``PutEvents`` entry) each) in batches; never raises for
    EventBridge's answer: what is not put after ``max_attempts`` is in ``failed``."""
    out = Put()
    sendable = []
    for key, entry in entries:
        n = _size(entry)
        if n > MAX_ENTRY_BYTES:
            out.failed[key] = f"EntryTooLarge: {n:,} bytes (EventBridge takes 256 KB)"
        else:
            sendable.append((key, entry))
    for start in range(0, len(sendable), MAX_BATCH):
        pending = sendable[start : start + MAX_BATCH]
        for attempt in range(1, max_attempts + 1):
            last = attempt == max_attempts
            try:
                response = client.put_events(Entries=[e for _, e in pending])
            except ClientError as err:
                error = err.response.get("Error", {})
                code = str(error.get("Code") or "")
                status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
                reason = f"{code or status}: {error.get('Message') or err}"
                retry = code in RETRYABLE or status == 429 or status >= 500
            except ParamValidationError as err:  # malformed: no retry helps
                reason, retry = f"ParamValidationError: {err}", False
            except BotoCoreError as err:  # no connection, timed out
                reason, retry = f"{type(err).__name__}: {err}", True
            else:
                answers = response.get("Entries") or []
                again = []
                for i, (key, entry) in enumerate(pending):
                    answer = answers[i] if i < len(answers) else {"ErrorCode": "NoAnswer"}
                    code = str(answer.get("ErrorCode") or "")
                    if not code:
                        out.sent += 1
                    elif code in RETRYABLE and not last:
                        again.append((key, entry))
                    else:
                        out.failed[key] = f"{code}: {answer.get('ErrorMessage') or ''}".strip()
                if not again:
                    break
                pending = again
                out.retries += 1
                sleep(base_delay * 2 ** (attempt - 1) * (0.5 + random.random()))
                continue
            if not retry or last:
                out.failed.update({key: reason for key, _ in pending})
                break
            out.retries += 1
            sleep(base_delay * 2 ** (attempt - 1) * (0.5 + random.random()))
    return out
