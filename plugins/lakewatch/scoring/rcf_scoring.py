"""The real-time scorer's Random Cut Forest step: a VPC Flow object's instance-hours scored
by the RCF endpoint against the RCF threshold, as findings of kind ``rcf``.

On when ``ScorerConfig.rcf_endpoint_name`` names an endpoint; then, for each VPC Flow object,
``RcfObjectScorer.findings``

1. computes the object's feature rows with the training extract's own SQL
   (``scoring.rcf_rows.object_feature_rows``: one definition of the features) and keeps the
   hours the object spans whole (``complete``): a part of an hour would score as a quiet
   hour;
2. gives the Route 53 columns, which a VPC Flow object has not, the instance's usual values
   (``rcf_rows.with_usual``);
3. reads the RCF threshold from its own SSM parameter (``names.rcf_threshold_parameter``),
   and the model's ``FeatureProfile`` (its transform, standardization and usual values) from
   ``features.json`` beside the threshold's model (``names.artifact_key``);
4. scores the rows through the endpoint (``aws.endpoint.invoke_rcf``) and writes the findings
   ``scoring.rcf_findings`` gives: explained by distance from the usual values, since an RCF
   endpoint answers scores only.

What is not there yet is transient (no threshold or profile published: the message is
retried); an endpoint failure too.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow.compute as pc
from botocore.exceptions import BotoCoreError, ClientError

from lakewatch.aws.endpoint import EndpointError, invoke_rcf
from lakewatch.extract.rcf_features import FEATURES_FILE, FeatureProfile
from lakewatch.lake.layout import LakeKey
from lakewatch.names import artifact_key, rcf_threshold_parameter
from lakewatch.scoring.caches import ThresholdCache
from lakewatch.scoring.errors import TransientError
from lakewatch.scoring.pairs import ObjectBody
from lakewatch.scoring.rcf_findings import RcfScorer, rcf_findings
from lakewatch.scoring.rcf_rows import object_feature_rows, with_usual


class EndpointRcf:
    """An RCF endpoint as ``rcf_findings.RcfScorer`` (scores only: no attribution)."""

    def __init__(self, runtime: Any, endpoint: str):
        self.runtime, self.endpoint = runtime, endpoint

    def score(self, rows: np.ndarray) -> np.ndarray:
        try:
            return invoke_rcf(self.runtime, self.endpoint, rows)
        except EndpointError as err:
            raise TransientError(str(err)) from None


def read_profile(s3: Any, bucket: str, models_prefix: str, model_id: str) -> FeatureProfile | None:
    """The feature profile of ``model_id`` (``features.json`` beside its artifact); None when
    there is none (yet); any other failure to read it, or a file that is not one, is
    ``TransientError``."""
    key = artifact_key(models_prefix, model_id, FEATURES_FILE)
    where = f"s3://{bucket}/{key}"
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404"):
            return None
        raise TransientError(f"reading {where}: {code}") from None
    except BotoCoreError as err:
        raise TransientError(f"reading {where}: {err}") from None
    try:
        return FeatureProfile.from_dict(json.loads(body))
    except (ValueError, KeyError, TypeError) as err:  # retried until it is republished
        raise TransientError(f"{where} is not a feature profile: {err}") from None


class ProfileCache:
    """The feature profile of the model last asked for (``read_profile``), read from S3 once
    while that model stays the one asked for; a missing one is asked again on the next call
    (it is published with the model, so it is late, not absent)."""

    def __init__(self, s3: Any, bucket: str, models_prefix: str):
        self.s3, self.bucket, self.prefix = s3, bucket, models_prefix
        self._loaded: tuple[str, FeatureProfile] | None = None

    def get(self, model_id: str) -> FeatureProfile:
        if self._loaded is not None and self._loaded[0] == model_id:
            return self._loaded[1]
        profile = read_profile(self.s3, self.bucket, self.prefix, model_id)
        if profile is None:
            where = f"s3://{self.bucket}/{artifact_key(self.prefix, model_id, FEATURES_FILE)}"
            raise TransientError(f"RCF model {model_id} has no feature profile at {where} (yet)")
        self._loaded = (model_id, profile)
        return profile


@dataclass
class RcfCounts:
    """An object's RCF step, for its ``ObjectResult``."""

    hours: int = 0  # instance-hours of the object
    scored: int = 0  # ... spanned whole, so scored
    findings: int = 0


class RcfObjectScorer:
    def __init__(
        self,
        *,
        ssm: Any,
        s3: Any,
        model: RcfScorer,
        threshold_parameter: str,
        results_bucket: str,
        models_prefix: str,
        region: str,
        ttl_s: float = 60.0,
    ):
        self.thresholds = ThresholdCache(ssm, rcf_threshold_parameter(threshold_parameter), ttl_s)
        self.profiles = ProfileCache(s3, results_bucket, models_prefix)
        self.model = model
        self.region = region

    def findings(
        self, body: ObjectBody, key: LakeKey, bucket: str, now_ms: int | None = None
    ) -> tuple[list[dict[str, Any]], RcfCounts]:
        """A VPC Flow object's RCF findings and counts (see the module's docstring)."""
        if hasattr(body, "seek"):
            body.seek(0)  # the pair views read it first
        rows = object_feature_rows(body, key, self.region)
        counts = RcfCounts(hours=rows.num_rows)
        whole = rows.filter(pc.fill_null(rows["complete"], False)).drop_columns(["complete"])
        counts.scored = whole.num_rows
        if whole.num_rows == 0:
            return [], counts
        threshold = self.thresholds.get()
        profile = self.profiles.get(threshold.model_id)
        found = rcf_findings(
            with_usual(whole, profile),
            model=self.model,
            profile=profile,
            threshold=threshold,
            source=key,
            bucket=bucket,
            now_ms=int(time.time() * 1000) if now_ms is None else now_ms,
        )
        counts.findings = len(found)
        return found, counts
