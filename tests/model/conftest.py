"""Fixtures for model tests: pairs from a small generated lake, and a model trained on them."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lakewatch.lake.generator import GenerateOptions, LakeGenerator
from lakewatch.lake.layout import Source


def egress_pairs(days: int = 2, rows: int = 40_000, seed: int = 5) -> tuple[list[str], list[str]]:
    """(instance, destination address) of outbound IPv4 flows in a generated lake."""
    gen = LakeGenerator(
        GenerateOptions(days=days, start=date(2026, 11, 1), rows_per_day=rows, seed=seed)
    )
    ents, ips = [], []
    for obj in gen.objects():
        if obj.source is not Source.VPC_FLOW:
            continue
        t = obj.table.combine_chunks()
        ent = pc.struct_field(t["src_endpoint"], "instance_uid")
        ip = pc.struct_field(t["dst_endpoint"], "ip")
        keep = pc.fill_null(
            pc.and_(pc.not_equal(ent, "-"), pc.match_substring_regex(ip, r"^\d+\.\d+\.\d+\.\d+$")),
            False,
        )
        ents.append(ent.filter(keep))
        ips.append(ip.filter(keep))
    return (pa.chunked_array(ents).to_pylist(), pa.chunked_array(ips).to_pylist())


@pytest.fixture(scope="session")
def lake_pairs():
    return egress_pairs()


@pytest.fixture(scope="session")
def trained(lake_pairs, tmp_path_factory):
    """A small model trained on the lake's pairs, saved as model.tar.gz."""
    from lakewatch.model.artifact import ModelArtifact
    from lakewatch.model.data import pairs_from_lists
    from lakewatch.model.hyperparameters import resolve
    from lakewatch.model.train import train

    ents, ips = lake_pairs
    pairs = pairs_from_lists(ents, ips)
    hp = resolve(
        {"epochs": 4, "vector_dim": 32, "mini_batch_size": 2000},
        distinct_entities=len(set(ents)),
        distinct_addresses=len(set(ips)),
    )
    result = train(pairs, hp, log=lambda s: None)
    model_dir = tmp_path_factory.mktemp("model")
    ModelArtifact.from_training(result).save(model_dir)
    return result, model_dir


def write_csv(path, rows) -> str:
    path.write_text("".join(f"{e},{ip}\n" for e, ip in rows))
    return str(path)


def auc_of(scores_pos, scores_neg) -> float:
    from lakewatch.metrics import roc_auc

    return roc_auc(np.asarray(scores_pos), np.asarray(scores_neg))
