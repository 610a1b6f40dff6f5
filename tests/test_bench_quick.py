"""``python -m bench --quick``: every benchmark's path runs end to end on small sizes.

A smoke check of correctness, never of speed: each benchmark checks its own results (rows read,
pairs scored, models trained) and raises otherwise; these assert every section printed its
figures and the run succeeded. The benchmarks run in three groups, one file each
(``tests/bench_quick.GROUPS``), so that pytest-xdist runs them on three workers at once: one
``python -m bench --quick`` was the suite's longest test.
"""

import ast
import re

import numpy as np
import pytest

from tests.bench_quick import GROUPS, run_quick
from tests.conftest import REPO

pytestmark = pytest.mark.e2e


def test_the_groups_are_every_benchmark_once():
    from bench.__main__ import BENCHMARKS

    named = [name for group in GROUPS.values() for name in group]
    assert sorted(named) == sorted(BENCHMARKS) and len(named) == len(set(named))


def test_the_quality_and_data_benchmarks_run_in_quick_mode():
    out = run_quick("quality")
    assert re.search(r"login\s+random\s+\d+\s+0\.\d+", out)  # quality printed its AUCs
    for row in ("lanl +redteam", "cidds +scan", "cidds +dos", "churn +lateral_new"):
        assert re.search(rf"^  {row}\s+\d+\s+\d\.\d{{4}} +\d", out, re.M), row  # every set
    assert re.search(r"churn: false-positive rate .* new [\d,]+ pairs", out)
    assert re.search(r"history build, 0.2M lake-shaped pairs, peak RSS\s+[\d,]+ MB\s+[\d.]+x", out)
    assert re.search(
        r"Athena scan bytes/row, flow_peers \(VPC_FLOW\)\s+[\d.]+\s+[\d.]+x the recorded", out
    )


# -- the quality bench's own parts, on small inputs ----------------------------------------------


def test_the_baseline_is_issue_28s_prefix_count():
    from bench.quality import PrefixCount

    base = PrefixCount(
        ["a", "a", "a", "a", "b"], ["10.1.2.3", "10.1.2.9", "10.1.7.1", "10.200.0.1", "10.1.2.3"]
    )
    got = base.score(
        ["a", "a", "b", "c", "a"], ["10.1.2.77", "10.9.9.9", "11.0.0.1", "10.1.2.3", "::1"]
    )
    want = [
        3 * np.log1p(2) + 2 * np.log1p(3) + np.log1p(4),  # 2 in the /24, 3 in the /16, 4 in the /8
        np.log1p(4),
        0.0,  # b never seen in 11/8
        0.0,  # c never seen
        0.0,  # IPv6
    ]
    assert np.allclose(got, want)


def test_ties_at_the_threshold_are_not_flagged():
    from bench.quality import tag_fpr, tpr_at_fpr

    normal = np.zeros(1000)
    assert tpr_at_fpr(normal, np.zeros(10)) == 0.0
    assert tpr_at_fpr(normal, np.full(10, -1.0)) == 1.0
    normal = np.arange(1000.0)  # threshold at 0.1%: the second-lowest score, 1.0
    assert tpr_at_fpr(normal, np.array([0.5, 1.0, 2.0])) == pytest.approx(1 / 3)
    tags = ["old"] * 900 + ["new"] * 100
    assert tag_fpr(normal, tags)["old"]["fpr"] == pytest.approx(1 / 900)
    assert tag_fpr(normal, tags)["new"]["fpr"] == 0.0


SETS = ("lanl", "cidds", "churn")


def test_the_new_sets_share_nothing_but_the_container():
    """Each generator imports numpy, the standard library's dataclasses and ``Dataset``:
    no helper of another set, of ``bench.datasets`` or of lakewatch (its synthetic lake)."""
    allowed = {
        ("__future__", "annotations"),
        ("numpy", None),
        ("dataclasses", "dataclass"),
        ("dataclasses", "field"),
        ("bench.sets", "Dataset"),
    }
    for name in SETS:
        imported = set()
        for node in ast.walk(ast.parse((REPO / "bench" / "sets" / f"{name}.py").read_text())):
            if isinstance(node, ast.Import):
                imported |= {(a.name, None) for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported |= {(node.module, a.name) for a in node.names}
        assert ("bench.sets", "Dataset") in imported and imported <= allowed, (name, imported)


def _small(name: str):
    from bench.sets.churn import churn
    from bench.sets.cidds import cidds
    from bench.sets.lanl import lanl

    return {
        "lanl": lambda: lanl(users=300, days=4, campaigns=3),
        "cidds": lambda: cidds(clients_per_subnet=4, train_days=3, test_days=1, attack_runs=10),
        "churn": lambda: churn(services=12, days=3, per_kind=50),
    }[name]()


@pytest.mark.parametrize("name", SETS)
def test_each_new_set_is_well_formed_and_reproducible(name):
    from lakewatch.model.encoding import parse_addresses

    ds = _small(name)
    assert ds.name == name
    parts = [ds.train, ds.validation, ds.normal, *ds.anomalies.values()]
    for ents, addrs in parts:
        assert ents and len(ents) == len(addrs)
        assert (parse_addresses(addrs).family == 4).all()
    trained = set(zip(*ds.train, strict=True)) | set(zip(*ds.validation, strict=True))
    known = {e for e, _ in trained}
    for kind, pairs in ds.anomalies.items():
        anomalous = set(zip(*pairs, strict=True))
        assert not anomalous & trained, kind  # no anomaly is a pair the model trained on
        if not kind.endswith("_new"):
            assert {e for e, _ in anomalous} <= known, kind
    again = _small(name)
    assert again.train == ds.train and again.anomalies == ds.anomalies
    if ds.normal_tags is not None:
        assert len(ds.normal_tags) == len(ds.normal[0])
        new = {e for e, t in zip(ds.normal[0], ds.normal_tags, strict=True) if t == "new"}
        assert new and not new & known  # new instances have no history
        assert {e for e, _ in zip(*ds.anomalies["external_new"], strict=True)} <= new
