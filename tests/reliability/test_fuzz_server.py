"""The model server under fuzzed requests: a clear 4xx or a correct 200, never a 500 or a hang."""

from __future__ import annotations

import http.client
import json
import threading

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lakewatch.local.model_server import ModelServer

CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "text/csv",
            "application/json",
            "application/jsonlines",
            "application/json; charset=utf-8",
            "",
        ]
    ),
    st.text(max_size=40),
)
ACCEPTS = st.one_of(
    st.none(),
    st.sampled_from(
        ["application/json", "application/jsonlines", "*/*", "application/json; verbose=True"]
    ),
    st.text(max_size=40),
)
ADDRESSES = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.text(max_size=20),
)
ENTITIES = st.one_of(st.sampled_from(["i-0000000000000000a", ""]), st.text(max_size=30))
CSV_BODIES = st.lists(
    st.one_of(
        st.tuples(ENTITIES, ADDRESSES).map(lambda p: f"{p[0]},{p[1]}"),
        st.text(max_size=60),
    ),
    max_size=20,
).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
JSON_BODIES = st.one_of(
    st.builds(
        lambda items: {"instances": items},
        st.lists(
            st.one_of(
                st.tuples(ENTITIES, ADDRESSES).map(lambda p: {"features": list(p)}),
                st.tuples(ENTITIES, ADDRESSES).map(
                    lambda p: {"data": {"features": {"values": list(p)}}}
                ),
                JSON_VALUES,
            ),
            max_size=10,
        ),
    ),
    JSON_VALUES,
).map(lambda doc: json.dumps(doc).encode())
BODIES = st.one_of(CSV_BODIES, JSON_BODIES, st.binary(max_size=200))


@pytest.fixture(scope="module")
def server(trained_on_views):
    srv = ModelServer(trained_on_views["model_dir"], port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _post(srv: ModelServer, path: str, body: bytes, headers: dict[str, str]):
    conn = http.client.HTTPConnection(*srv.server_address[:2], timeout=10)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=BODIES,
    content_type=CONTENT_TYPES,
    accept=ACCEPTS,
    path=st.sampled_from(["/invocations", "/endpoints/any/invocations", "/nope"]),
)
def test_fuzzed_requests_get_a_clear_answer(server, body, content_type, accept, path):
    headers = {"Content-Type": content_type}
    if accept is not None:
        headers["Accept"] = accept
    try:
        status, resp_headers, payload = _post(server, path, body, headers)
    except ValueError:  # http.client refuses a header value with control characters
        return
    assert status in (200, 400, 404, 406, 413, 415), (status, payload[:200])
    event(f"HTTP {status}")
    if status == 200:
        doc = (
            json.loads(payload)
            if resp_headers["Content-Type"] == "application/json"
            else {"predictions": [json.loads(line) for line in payload.splitlines()]}
        )
        assert all(
            p["dot_product"] is None or isinstance(p["dot_product"], float)
            for p in doc["predictions"]
        )
        assert doc["predictions"], "a 200 with no predictions"
    else:
        error = json.loads(payload)
        assert error["message"].strip(), payload
        assert resp_headers["x-amzn-ErrorType"] in ("ValidationError", "ResourceNotFound")


def test_still_serving_after_the_fuzz(server):
    status, _, payload = _post(
        server, "/invocations", b"i-0000000000000000a,10.0.0.1\n", {"Content-Type": "text/csv"}
    )
    assert status == 200 and len(json.loads(payload)["predictions"]) == 1
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=5)
    conn.request("GET", "/ping")
    assert conn.getresponse().status == 200
