"""Evaluation sets written from published descriptions, one generator per module.

Each module builds its set from its own description with code of its own: the modules share
nothing but the ``Dataset`` container below (not even address helpers), and none of them
knows lakewatch's synthetic lake or the sets in ``bench.datasets``.

- ``lanl``: users authenticating to computers, after the published statistics of Los Alamos
  National Laboratory's "Comprehensive, Multi-Source Cyber-Security Events" (Kent, 2015),
  with red-team events shaped as its red-team file.
- ``cidds``: the small business network of CIDDS-001 (Ring et al., 2017) as its published
  setup and scripts describe it, with their ping scans, port scans, SSH brute force and DoS.
- ``churn``: a fleet of Auto Scaling groups in VPCs whose instances are replaced by new
  instance ids with the same behaviour, as the EC2 Auto Scaling and VPC documentation
  describe; lateral and external anomalies on old and on new instances.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Pairs = tuple[list[str], list[str]]


@dataclass
class Dataset:
    """One evaluation set: (entity, address) pairs as lists of strings.

    ``normal_tags``: where given, one tag per normal test pair (for example ``old`` and
    ``new`` instances), so the quality bench can report each tag's false-positive rate at the
    thresholds. ``entity_groups``: where given, each entity's group as the flow logs would
    name it (``vpc/subnet``), for scoring an entity by its group.
    """

    name: str
    train: Pairs
    validation: Pairs
    normal: Pairs
    anomalies: dict[str, Pairs]
    notes: list[str] = field(default_factory=list)
    normal_tags: list[str] | None = None
    entity_groups: dict[str, str] | None = None
