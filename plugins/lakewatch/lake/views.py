"""The pair views' names: what the extract's SQL, the scorer, the findings and the synthetic
lake's ground truth call each kind of (entity, address) pair.

A ``StrEnum``: a member is its string (``View.EGRESS_PEER == "egress_peer"``, the same hash),
so it compares with, and writes to JSON, CSV, Parquet and SQL as, the plain value. Here in
``lake`` (the bottom layer) because the synthetic lake labels its anomalies by view;
``extract.views`` re-exports it beside the views' SQL.
"""

from __future__ import annotations

from enum import StrEnum


class View(StrEnum):
    SEED = "seed"  # an instance and its own source address (VPC + DNS)
    EGRESS_PEER = "egress_peer"  # an instance and the destinations of its outbound flows
    INGRESS_PEER = "ingress_peer"  # an instance (as '<id>/in') and its inbound flows' sources
    DNS_ANSWER = "dns_answer"  # an instance and the addresses Route 53 answered to its queries
    SIGNIN = "signin"  # a principal and the address it signed in from (CloudTrail 3002)
