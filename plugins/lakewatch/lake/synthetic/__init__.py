"""A synthetic Security Lake: VPC Flow, Route 53, Security Hub and CloudTrail objects with
labelled anomalies.

By concern: ``options`` (what is asked and handed back), ``pools`` (addresses, interfaces,
hostnames), ``traffic`` (normal behaviour), ``anomalies`` (one writer per injected kind),
``rcf_anomalies`` (the kinds shaped for Random Cut Forest's instance-hours),
``blocks`` and ``ocsf`` (rows, then Security Lake tables), ``churn`` (instances replaced day by
day), ``identities``, ``cloudtrail`` and ``cloudtrail_ocsf`` (who signs in and calls, what
CloudTrail records, its tables), ``generator`` (objects, streamed).
"""

from lakewatch.lake.synthetic.generator import LakeGenerator
from lakewatch.lake.synthetic.options import (
    ANOMALY_KINDS,
    RCF_KINDS,
    SIGNIN_KINDS,
    GeneratedObject,
    GenerateOptions,
    Label,
)

__all__ = [
    "ANOMALY_KINDS",
    "RCF_KINDS",
    "SIGNIN_KINDS",
    "GenerateOptions",
    "GeneratedObject",
    "Label",
    "LakeGenerator",
]
