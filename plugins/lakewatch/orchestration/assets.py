"""The Assets lakewatch's DAGs produce and react to.

URIs are built from the settings at parse time (environment variables only: parsing must not
call the metadata database). Names are fixed, so renaming a bucket keeps the DAG links.
"""

from __future__ import annotations

from airflow.sdk import Asset

from lakewatch.names import endpoint_state_key, rcf_thresholds_prefix, serving_endpoint
from lakewatch.settings import Settings

_S = Settings()

TRAINING_PAIRS = Asset(
    name="lakewatch_training_pairs",
    uri=f"s3://{_S.results_bucket_name}/{_S.extracts_prefix}",
    group="lakewatch",
)
DEPLOYED_MODEL = Asset(
    name="lakewatch_deployed_model",
    uri=f"s3://{_S.results_bucket_name}/{endpoint_state_key(_S.models_prefix, _S.endpoint_name)}",
    group="lakewatch",
)
THRESHOLD = Asset(
    name="lakewatch_threshold",
    uri=f"s3://{_S.results_bucket_name}/{_S.thresholds_prefix}",
    group="lakewatch",
)
# the RCF model serving on its own endpoint: its deploys trigger its threshold's recalibration
# and the scorer's redeploy, as DEPLOYED_MODEL's do for IP Insights
DEPLOYED_RCF_MODEL = Asset(
    name="lakewatch_deployed_rcf_model",
    uri=f"s3://{_S.results_bucket_name}/"
    + endpoint_state_key(
        _S.models_prefix, serving_endpoint("rcf-", _S.endpoint_name, _S.rcf_endpoint_name)
    ),
    group="lakewatch",
)
RCF_THRESHOLD = Asset(
    name="lakewatch_rcf_threshold",
    uri=f"s3://{_S.results_bucket_name}/{rcf_thresholds_prefix(_S.thresholds_prefix)}",
    group="lakewatch",
)
