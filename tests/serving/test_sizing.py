"""The sizing model: its columns are the SQL's, its arithmetic follows its figures, and
docs/scale.md's example is exactly what it prints for the doc's inputs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from lakewatch.extract.views import QueryContext, View, render, scans
from lakewatch.lake.layout import Source
from lakewatch.serving import sizing
from lakewatch.serving.sizing import Lake, Stage, size
from lakewatch.serving.sizing import render as render_sizing
from tests.conftest import REPO

DOC = REPO / "docs" / "scale.md"
EXAMPLE = Lake(accounts=500, regions=4, flow_tb_per_day=20)
_STRUCT = re.compile(r"\b(src_endpoint|dst_endpoint|connection_info)\.(\w+)")


def _columns(sql: str) -> set[str]:
    """The leaf columns a view's SQL reads (struct fields, times, Route 53 answers)."""
    found = {f"{a}.{b}" for a, b in _STRUCT.findall(sql)}
    if '"time"' in sql:
        found.add("time")
    if "time_dt" in sql:
        found.add("time_dt")
    found |= {f"answers.{f}" for f in re.findall(r"\ba\.(\w+)", sql) if "answers" in sql}
    return found


def _sql_columns(scan: str) -> dict[Source, set[str]]:
    views = (View.EGRESS_PEER, View.INGRESS_PEER) if scan == "flow_peers" else (scan,)
    assert scans(views) == [scan]
    ctx = QueryContext(
        region="us-east-1",
        source_version="2.0",
        start=datetime(2026, 11, 1, tzinfo=UTC),
        end=datetime(2026, 11, 2, tzinfo=UTC),
        views=views,
    )
    raw = render("pairs.sql", ctx).split("\n)\nSELECT entity")[0]  # the views, not the wrapper
    out: dict[Source, set[str]] = {}
    for part in raw.split("UNION ALL"):
        source = Source.VPC_FLOW if "_vpc_flow_" in part else Source.ROUTE53
        out.setdefault(source, set()).update(_columns(part))
    return out


@pytest.mark.parametrize("scan", list(sizing.VIEW_COLUMNS))
def test_each_scans_columns_are_those_its_sql_reads(scan):
    listed = {source: set(cols) for source, cols in sizing.VIEW_COLUMNS[scan].items()}
    assert listed == _sql_columns(scan)


def test_every_scan_and_default_view_has_its_measured_figures():
    assert set(sizing.SCAN_BYTES_PER_ROW) == set(sizing.VIEW_COLUMNS)
    for scan, by_source in sizing.VIEW_COLUMNS.items():
        assert set(sizing.SCAN_BYTES_PER_ROW[scan]) == set(by_source)
    for figures in (
        sizing.KEPT_PAIRS_PER_ROW,
        sizing.OBJECT_DISTINCT_PER_ROW,
        sizing.DAY_DISTINCT_PER_ROW,
    ):
        assert set(figures) == {View.EGRESS_PEER, View.INGRESS_PEER, View.DNS_ANSWER}


def test_every_figure_says_where_it_comes_from():
    figures = [v for v in vars(sizing).values() if isinstance(v, sizing.Figure)]
    for group in (
        sizing.KEPT_PAIRS_PER_ROW,
        sizing.OBJECT_DISTINCT_PER_ROW,
        sizing.DAY_DISTINCT_PER_ROW,
    ):
        figures += group.values()
    figures += [f for by_source in sizing.SCAN_BYTES_PER_ROW.values() for f in by_source.values()]
    assert len(figures) > 30
    for f in figures:
        assert f.value > 0 and f.unit and f.source
        assert f.kind in (sizing.MEASURED, sizing.EXTRAPOLATED, sizing.DOCUMENTED, sizing.ASSUMED)


def test_a_column_read_costs_less_than_the_whole_row():
    for by_source in sizing.SCAN_BYTES_PER_ROW.values():
        for source, figure in by_source.items():
            whole = {
                Source.VPC_FLOW: sizing.FLOW_BYTES_PER_ROW,
                Source.ROUTE53: sizing.ROUTE53_BYTES_PER_ROW,
            }
            assert 0 < figure.value < whole[source].value
    one_scan = sizing.SCAN_BYTES_PER_ROW["flow_peers"][Source.VPC_FLOW].value
    both = sum(
        sizing.SCAN_BYTES_PER_ROW[v][Source.VPC_FLOW].value for v in ("egress_peer", "ingress_peer")
    )
    assert one_scan < both  # why flow_peers exists


def test_athena_bytes_and_cost_follow_the_figures():
    s = size(EXAMPLE)
    assert s.flow_rows == pytest.approx(20e12 / sizing.FLOW_BYTES_PER_ROW.value)
    per_query = (
        s.flow_rows * sizing.SCAN_BYTES_PER_ROW["flow_peers"][Source.VPC_FLOW].value
        + s.dns_rows * sizing.SCAN_BYTES_PER_ROW[View.DNS_ANSWER][Source.ROUTE53].value
    )
    assert s.athena_queries == 3 * 4
    assert s.athena_bytes == pytest.approx(3 * per_query)
    assert s.athena_usd == pytest.approx(3 * per_query / 1e12 * 5.0)


def test_a_tiny_lake_pays_athenas_minimum_per_query():
    s = size(Lake(accounts=1, regions=2, flow_tb_per_day=1e-9))
    assert s.athena_bytes == 6 * sizing.ATHENA_MIN_BYTES.value


def test_route53_volume_given_replaces_the_assumed_share():
    s = size(Lake(accounts=10, regions=1, flow_tb_per_day=1, route53_tb_per_day=0.5))
    assert s.dns_rows == pytest.approx(0.5e12 / sizing.ROUTE53_BYTES_PER_ROW.value)


def test_scaling_the_lake_scales_the_costs_linearly():
    small, big = size(Lake(500, 4, 2)), size(Lake(500, 4, 20))
    assert big.athena_usd == pytest.approx(10 * small.athena_usd)
    assert big.window_pairs == pytest.approx(10 * small.window_pairs)
    assert big.endpoint_pairs_per_s == pytest.approx(10 * small.endpoint_pairs_per_s)


def test_the_scorers_memory_and_rate_follow_bench_scorers_points():
    for rows, rate, peak in sizing.SCORER_POINTS:
        assert sizing.scorer_peak_mb(rows) == pytest.approx(peak)
        assert sizing.scorer_rate(rows, 1_769) == pytest.approx(rate / 2)
    assert sizing.scorer_peak_mb(9_000_000) > sizing.scorer_peak_mb(5_000_000)  # extended
    assert sizing.memory_setting(100) == 2_048  # never below the configured memory
    assert sizing.memory_setting(2_000) == 2_560  # 25% headroom, 64 MB steps


def test_the_batch_fits_the_busiest_objects_in_half_the_timeout():
    s = size(EXAMPLE)
    assert 1 <= s.batch_size <= 10
    assert s.batch_size * s.busiest_s <= s.lambda_timeout_s / 2
    assert s.lambda_timeout_s <= 900 and s.lambda_memory_mb <= 10_240


def test_stages_are_worst_first_and_unknown_limits_never_break():
    s = size(EXAMPLE)
    known = [st for st in s.stages if st.known]
    assert [st.ratio for st in known] == sorted((st.ratio for st in known), reverse=True)
    assert all(not st.known for st in s.stages[len(known) :])
    assert not Stage("x", 5, 1, "s", "", known=False).breaks
    assert s.first_break is known[0] and s.first_break.breaks


def test_lake_refuses_impossible_inputs():
    with pytest.raises(ValueError):
        Lake(accounts=0, regions=1, flow_tb_per_day=1)
    with pytest.raises(ValueError):
        Lake(accounts=1, regions=1, flow_tb_per_day=0)
    with pytest.raises(ValueError):
        Lake(accounts=1, regions=1, flow_tb_per_day=1, busiest_skew=0.5)


def test_docs_example_is_exactly_what_the_model_prints():
    text = DOC.read_text()
    block = re.search(r"<!-- sizing-example -->\n```text\n(.*?)```\n", text, re.S)
    assert block, "docs/scale.md lost its example block"
    assert block.group(1).splitlines() == render_sizing(size(EXAMPLE)), (
        "docs/scale.md's example differs from the model: paste the output of "
        "`lakewatch sizing --accounts 500 --regions 4 --flow-tb-per-day 20`"
    )
