"""A synthetic Security Lake: VPC Flow and Route 53 objects with labelled anomalies.

By concern: ``options`` (what is asked and handed back), ``pools`` (addresses, interfaces,
hostnames), ``traffic`` (normal behaviour), ``anomalies`` (one writer per injected kind),
``blocks`` and ``ocsf`` (rows, then Security Lake tables), ``generator`` (objects, streamed).
"""

from lakewatch.lake.synthetic.generator import LakeGenerator
from lakewatch.lake.synthetic.options import (
    ANOMALY_KINDS,
    GeneratedObject,
    GenerateOptions,
    Label,
)

__all__ = ["ANOMALY_KINDS", "GenerateOptions", "GeneratedObject", "Label", "LakeGenerator"]
