"""What the scorer reads from S3 and SSM and keeps between invocations of a warm function:
the published threshold, its per-entity rates and the analysts' suppressions, each re-read
only when it may have changed."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lakewatch.aws.s3 import S3Uri
from lakewatch.lake.sink import S3Store
from lakewatch.names import feedback_prefix_of
from lakewatch.review.feedback import Suppression, read_suppression, suppression_keys
from lakewatch.scoring.errors import TransientError


class ThresholdCache:
    """The published threshold record from SSM, re-read at most every ``ttl`` seconds."""

    def __init__(self, ssm: Any, name: str, ttl: float):
        self.ssm, self.name, self.ttl = ssm, name, ttl
        self._value: dict[str, Any] | None = None
        self._at = 0.0

    def get(self) -> dict[str, Any]:
        if self._value is None or time.monotonic() - self._at > self.ttl:
            try:
                param = self.ssm.get_parameter(Name=self.name)["Parameter"]
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") == "ParameterNotFound":
                    raise TransientError(f"no threshold published at {self.name} yet") from None
                raise TransientError(f"reading {self.name}: {err}") from None
            except BotoCoreError as err:
                raise TransientError(f"reading {self.name}: {err}") from None
            try:  # a hand-edited parameter: retried until someone republishes it
                value = json.loads(param["Value"])
                float(value["threshold"])
                str(value["model_id"])
            except (ValueError, KeyError, TypeError) as err:
                raise TransientError(
                    f"{self.name} version {param.get('Version')} is not a threshold record "
                    f"(JSON with threshold and model_id): {err}"
                ) from None
            value["version"] = param["Version"]
            self._value, self._at = value, time.monotonic()
        return self._value


class EntityRates:
    """The published threshold's per-entity flag rates, from its full record on S3 (SSM holds
    the compact record, which names it), read once per threshold version."""

    def __init__(self, s3: Any):
        self.s3 = s3
        self._for: tuple[Any, str] | None = None
        self._rates: dict[str, float] = {}

    def get(self, threshold: dict[str, Any]) -> dict[str, float]:
        uri = str(threshold.get("record") or "")
        if not uri.startswith("s3://"):
            return {}
        if self._for != (threshold.get("version"), uri):
            where = S3Uri.parse(uri)
            try:
                body = self.s3.get_object(Bucket=where.bucket, Key=where.key)["Body"].read()
                doc = json.loads(body)
            except (ClientError, BotoCoreError) as err:
                raise TransientError(f"reading the threshold record {uri}: {err}") from None
            except ValueError as err:
                raise TransientError(f"the threshold record {uri} is not JSON: {err}") from None
            self._rates = {str(e): float(r) for e, r in (doc.get("entity_rates") or {}).items()}
            self._for = (threshold.get("version"), uri)
        return self._rates


class SuppressionCache:
    """Analysts' suppressions (``review.feedback``) in force, re-listed at most every ``ttl``
    seconds, so a new one silences the scorer within a minute and an expired one stops."""

    def __init__(self, s3: Any, bucket: str, prefix: str, ttl: float):
        self.store, self.prefix, self.ttl = S3Store(s3, bucket), prefix, ttl
        self._by_key: dict[str, Suppression] = {}  # a suppression object is never rewritten
        self._at: float | None = None

    def active(self) -> list[Suppression]:
        if self._at is None or time.monotonic() - self._at > self.ttl:
            where = feedback_prefix_of(self.prefix, "suppressions")
            try:  # one listing; only suppressions not seen before are fetched
                self._by_key = {
                    k: self._by_key.get(k) or read_suppression(self.store, k)
                    for k in suppression_keys(self.store, self.prefix)
                }
            except (ClientError, BotoCoreError) as err:
                raise TransientError(f"reading suppressions under {where}: {err}") from None
            except (ValueError, TypeError) as err:
                raise TransientError(f"a suppression under {where} is unreadable: {err}") from None
            self._at = time.monotonic()
        now = datetime.now(UTC)
        return [s for s in self._by_key.values() if s.active(now)]
