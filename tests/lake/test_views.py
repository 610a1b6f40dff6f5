"""lake.views: the pair views' names are an enum whose members are their strings, so what
is written with them (JSON, CSV, Parquet, SQL) holds the plain values."""

import csv
import io
import json

import pyarrow as pa

from lakewatch.extract.views import DEFAULT_VIEWS, VIEWS
from lakewatch.extract.views import View as Reexported
from lakewatch.lake.views import View


def test_the_values_are_the_views_names():
    assert [v.value for v in View] == [
        "seed",
        "egress_peer",
        "ingress_peer",
        "dns_answer",
        "signin",
    ]
    assert list(VIEWS) == list(View) and Reexported is View
    assert DEFAULT_VIEWS == ("egress_peer", "ingress_peer", "dns_answer")


def test_a_member_is_its_string():
    assert View.INGRESS_PEER == "ingress_peer" and "ingress_peer" in VIEWS
    assert {"egress_peer": 1}[View.EGRESS_PEER] == 1
    assert f"'{View.DNS_ANSWER}'" == "'dns_answer'" and str(View.SEED) == "seed"


def test_what_is_written_holds_plain_strings():
    assert json.dumps({"view": View.EGRESS_PEER}) == '{"view": "egress_peer"}'
    out = io.StringIO()
    csv.writer(out).writerow([View.INGRESS_PEER])
    assert out.getvalue() == "ingress_peer\r\n"
    column = pa.array([View.DNS_ANSWER, View.SEED])
    assert column.type == pa.string()
    assert [type(v) for v in column.to_pylist()] == [str, str]
