"""lake.synthetic.ocsf: a slice's blocks become Security Lake tables in the lake's own schema
that validate against OCSF for both source versions, with observables only for real values."""

import numpy as np
import pyarrow as pa
import pytest

from lakewatch.lake.layout import OCSF_VERSION, Source
from lakewatch.lake.schemas import schema_for
from lakewatch.lake.synthetic.ocsf import OcsfTables, observables
from lakewatch.lake.synthetic.traffic import daily_usage, normal_traffic
from lakewatch.lake.validate import validate_table


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_tables_fit_the_schema_and_validate(make_slice, pools, world, version):
    sl = make_slice(seed=4)
    normal_traffic(sl, 600, 150, daily_usage(pools, np.random.default_rng(2)))
    tables = OcsfTables(version, "us-east-1", pools.eni)
    uid = world.accounts[0].uid
    for source, blocks, build in (
        (Source.VPC_FLOW, sl.vpc, tables.vpc_table),
        (Source.ROUTE53, sl.dns, tables.dns_table),
    ):
        cols = {k: pa.concat_arrays([b[k] for b in blocks]) for k in blocks[0]}
        table = build(cols, uid)
        assert table.schema == schema_for(source, version)
        assert table.num_rows == len(cols["time"])
        assert validate_table(table, OCSF_VERSION[version], sample=300) == []


def test_observables_skip_nulls_and_dashes():
    out = observables(
        3,
        [
            ("src_endpoint.ip", "IP Address", 2, pa.array(["10.0.0.1", None, "-"])),
            ("dst_endpoint.ip", "IP Address", 2, pa.array(["1.1.1.1", "1.1.1.2", "1.1.1.3"])),
        ],
    ).to_pylist()
    assert [[o["name"] for o in row] for row in out] == [
        ["src_endpoint.ip", "dst_endpoint.ip"],
        ["dst_endpoint.ip"],
        ["dst_endpoint.ip"],
    ]
    assert out[0][0]["value"] == "10.0.0.1" and out[0][0]["type_id"] == 2
