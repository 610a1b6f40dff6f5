"""model.protocol: SageMaker IP Insights' request and response formats, and a clear error
(with the HTTP status SageMaker would use) naming the row for anything else."""

import json

import numpy as np
import pytest

from lakewatch.model.inference import Scores
from lakewatch.model.protocol import (
    MAX_PAYLOAD,
    RequestError,
    check_scores,
    media_type,
    parse_request,
    render,
    wants_embeddings,
)

PAIRS = (["i-1", "i-2"], ["10.0.0.1", "198.51.100.7"])


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (b"i-1,10.0.0.1\r\n\ni-2, 198.51.100.7\n", "text/csv"),
        (
            json.dumps(
                {
                    "instances": [
                        {"data": {"features": {"values": ["i-1", "10.0.0.1"]}}},
                        {"features": ["i-2", "198.51.100.7"]},
                    ]
                }
            ).encode(),
            "application/json; charset=utf-8",
        ),
        (
            b'{"features": ["i-1", "10.0.0.1"]}\n\n{"features": ["i-2", "198.51.100.7"]}\n',
            "application/jsonlines",
        ),
    ],
)
def test_every_documented_request_format_parses_to_the_same_pairs(body, ctype):
    entities, addresses, _ = parse_request(body, ctype)
    assert (entities, addresses) == PAIRS


@pytest.mark.parametrize(
    ("body", "ctype", "status", "message"),
    [
        (b"i-1,10.0.0.1\ni-2\n", "text/csv", 400, "line 2: expected 2 columns"),
        (b'{"instances": [{"features": ["i-1"]}]}', "application/json", 400, "instance 1"),
        (b'{"rows": []}', "application/json", 400, '"instances" list'),
        (b"{", "application/json", 400, "not JSON"),
        (b'{"features": ["a", "b"]}\n{x', "application/jsonlines", 400, "line 2: not JSON"),
        (b"\xff\xfe", "text/csv", 400, "not UTF-8"),
        (b"i-1,10.0.0.1", "text/plain", 415, "unsupported Content-Type"),
        (b"\n\n", "text/csv", 400, "no (entity, address) pairs"),
        (b"x" * (MAX_PAYLOAD + 1), "text/csv", 413, "exceeds"),
    ],
)
def test_bad_requests_are_refused_with_status_and_place(body, ctype, status, message):
    with pytest.raises(RequestError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        parse_request(body, ctype)
    assert err.value.status == status


def _scores(verbose: bool = False) -> Scores:
    out = Scores(
        np.array([1.5, np.nan], np.float32), np.array([True, False]), np.array([1, 0], bool)
    )
    if verbose:
        out.entity_embedding = np.ones((2, 2), np.float32)
        out.ip_embedding = np.zeros((2, 2), np.float32)
    return out


def test_responses_in_json_and_jsonlines_with_optional_embeddings():
    body, ctype = render(_scores(), None)
    assert ctype == "application/json"
    assert json.loads(body) == {
        "predictions": [
            {"dot_product": 1.5, "known_entity": True},
            {"dot_product": None, "known_entity": False},
        ]
    }
    body, ctype = render(_scores(verbose=True), "application/jsonlines; verbose=True")
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert ctype == "application/jsonlines" and len(lines) == 2
    assert lines[0]["entity_embedding"] == [1.0, 1.0] and lines[0]["ip_embedding"] == [0.0, 0.0]
    assert render(_scores(), "*/*")[1] == "application/json"
    with pytest.raises(RequestError, match="unsupported Accept") as err:
        render(_scores(), "text/csv")
    assert err.value.status == 406


def test_media_type_parameters_and_verbose():
    assert media_type('Application/JSON; Verbose="True"') == (
        "application/json",
        {"verbose": "True"},
    )
    assert wants_embeddings("application/json; verbose=1")
    assert not wants_embeddings("application/json") and not wants_embeddings(None)


def test_an_address_that_does_not_parse_is_named():
    with pytest.raises(RequestError, match="line 2: 'nope' is not an IP address"):
        check_scores(_scores(), ["10.0.0.1", "nope"], "line")


def test_the_fast_answer_reads_back_as_the_same_float32_values():
    rng = np.random.default_rng(0)
    dots = rng.normal(size=500).astype(np.float32)
    dots[[3, 70]] = np.nan
    scores = Scores(dots, rng.random(500) < 0.5, np.ones(500, bool))
    expected = [
        {"dot_product": None if np.isnan(d) else float(d), "known_entity": bool(k)}
        for d, k in zip(dots.tolist(), scores.known_entity.tolist(), strict=True)
    ]

    def as_float32(preds):
        return [
            {**p, "dot_product": None if p["dot_product"] is None else np.float32(p["dot_product"])}
            for p in preds
        ]

    body, _ = render(scores, "application/json")
    assert as_float32(json.loads(body)["predictions"]) == as_float32(expected)
    lines, _ = render(scores, "application/jsonlines")
    assert as_float32([json.loads(x) for x in lines.decode().splitlines()]) == as_float32(expected)
    assert len(body) < len(json.dumps({"predictions": expected}))  # float32's shortest text


def test_plain_and_irregular_csv_give_the_same_pairs():
    plain = b"i-1,10.0.0.1\r\ni-2,198.51.100.7\n"
    quoted = b'"i-1",10.0.0.1\ni-2,"198.51.100.7"\n'
    for body in (plain, quoted):
        entities, addresses, _ = parse_request(body, "text/csv")
        assert ([str(e) for e in entities], [str(a) for a in addresses]) == PAIRS


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"i-1,10.0.0.1,x\ni-2\n", "three fields on one line, one on the next"),
        (b"i-1\ni-2,10.0.0.1,x\n", "one field, then three"),
        (b"i-1,10.0.0.1\ni-2\n", "a line without its address"),
        (b"i-1,,10.0.0.1\n", "an empty field"),
    ],
)
def test_csv_with_a_line_of_the_wrong_shape_is_refused_by_line(body, why):
    """The fast path checks each line's one comma, so a request whose comma count happens to
    match its line count is still refused, by the csv reader, naming the line."""
    with pytest.raises(RequestError, match=r"line \d+: expected 2 columns"):
        parse_request(body, "text/csv")


def test_plain_csv_fields_keep_their_characters():
    entities, addresses, _ = parse_request("é-1,10.0.0.1\nи-2,::1".encode(), "text/csv")
    assert entities.to_pylist() == ["é-1", "и-2"] and addresses.to_pylist() == ["10.0.0.1", "::1"]
