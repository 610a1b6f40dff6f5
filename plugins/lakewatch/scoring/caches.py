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
from lakewatch.threshold.published import NotAThresholdRecord, PublishedThreshold, parse_published


class ThresholdCache:
    """The published threshold record from SSM, re-read at most every ``ttl`` seconds."""

    def __init__(self, ssm: Any, name: str, ttl: float):
        self.ssm, self.name, self.ttl = ssm, name, ttl
        self._value: PublishedThreshold | None = None
        self._at = 0.0

    def get(self) -> PublishedThreshold:
        if self._value is None or time.monotonic() - self._at > self.ttl:
            param = self._parameter()
            try:  # a hand-edited parameter: retried until someone republishes it
                value = parse_published(self.name, param["Value"], param["Version"])
            except NotAThresholdRecord as err:
                raise TransientError(str(err)) from None
            self._value, self._at = value, time.monotonic()
        return self._value

    def _parameter(self) -> dict[str, Any]:
        """The parameter as SSM returns it; any failure to read it is transient (not yet
        published, throttled, unreachable)."""
        try:
            return self.ssm.get_parameter(Name=self.name)["Parameter"]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ParameterNotFound":
                raise TransientError(f"no threshold published at {self.name} yet") from None
            raise TransientError(f"reading {self.name}: {err}") from None
        except BotoCoreError as err:
            raise TransientError(f"reading {self.name}: {err}") from None


class EntityRates:
    """The published threshold's per-entity flag rates, from its full record on S3 (SSM holds
    the compact record, which names it), read once per threshold version."""

    def __init__(self, s3: Any):
        self.s3 = s3
        self._for: tuple[int, str] | None = None
        self._rates: dict[str, float] = {}

    def get(self, threshold: PublishedThreshold) -> dict[str, float]:
        uri = threshold.record
        if not uri.startswith("s3://"):
            return {}
        if self._for != (threshold.version, uri):
            where = S3Uri.parse(uri)
            try:
                body = self.s3.get_object(Bucket=where.bucket, Key=where.key)["Body"].read()
                doc = json.loads(body)
            except (ClientError, BotoCoreError) as err:
                raise TransientError(f"reading the threshold record {uri}: {err}") from None
            except ValueError as err:
                raise TransientError(f"the threshold record {uri} is not JSON: {err}") from None
            self._rates = {str(e): float(r) for e, r in (doc.get("entity_rates") or {}).items()}
            self._for = (threshold.version, uri)
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
