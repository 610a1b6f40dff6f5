"""SageMaker RCF's request and response formats; a wrong width is a 400 naming the row."""

import json

import numpy as np
import pytest

from lakewatch.model.protocol import RequestError
from lakewatch.model.rcf.protocol import parse_request, render


def test_the_three_request_forms_parse_the_same():
    csv = parse_request(b"1,2,3\n4,5,6\n", "text/csv", 3)
    dense = parse_request(
        json.dumps({"instances": [{"features": [1, 2, 3]}, {"features": [4, 5, 6]}]}).encode(),
        "application/json",
        3,
    )
    nested = parse_request(
        json.dumps(
            {"instances": [{"data": {"features": {"values": [1, 2, 3]}}}, {"features": [4, 5, 6]}]}
        ).encode(),
        "application/json; charset=utf-8",
        3,
    )
    lines = parse_request(
        b'{"features": [1, 2, 3]}\n{"features": [4, 5, 6]}\n', "application/jsonlines", 3
    )
    for rows in (dense, nested, lines):
        np.testing.assert_array_equal(rows, csv)


def test_responses_in_sagemakers_shape():
    body, ctype = render(np.array([0.5, 2.0]), "application/json")
    assert ctype == "application/json"
    assert json.loads(body) == {"scores": [{"score": 0.5}, {"score": 2.0}]}
    body, ctype = render(np.array([0.5]), "application/jsonlines")
    assert body == b'{"score": 0.5}\n' and ctype == "application/jsonlines"
    assert render(np.array([1.0]), None)[1] == "application/json"


@pytest.mark.parametrize(
    "body, ctype, message, status",
    [
        (
            b"1,2\n",
            "text/csv",
            r"row 1: 2 value\(s\), expected 3 \(the model's feature_dim is 3\)",
            400,
        ),
        (b"1,2,3\n1,2,inf\n", "text/csv", "row 2: value 3 is not finite", 400),
        (
            b'{"instances": [{"features": [1, 2]}]}',
            "application/json",
            "instance 1: 2 features, but the model's feature_dim is 3",
            400,
        ),
        (
            b'{"instances": [{"features": [1, 2, "x"]}]}',
            "application/json",
            "feature 3 is not a finite number",
            400,
        ),
        (b'{"rows": []}', "application/json", "expected", 400),
        (b"1,2,3", "application/x-npy", "not supported", 415),
    ],
)
def test_bad_requests(body, ctype, message, status):
    with pytest.raises(RequestError, match=message) as err:
        parse_request(body, ctype, 3)
    assert err.value.status == status


def test_unsupported_accept_is_406():
    with pytest.raises(RequestError) as err:
        render(np.array([1.0]), "text/csv")
    assert err.value.status == 406
