"""aws.endpoint: pairs sent to an endpoint in order-keeping batches under the payload limit,
throttling retried with backoff, a bad request not."""

import io
import json

import pytest
from botocore.exceptions import ClientError

from lakewatch.aws.endpoint import EndpointError, _batches, invoke_pairs


class FakeRuntime:
    """The sagemaker-runtime boundary: scores = a function of the address's last octet."""

    def __init__(self, fail_first=0, code="ThrottlingException", score=None):
        self.calls, self.fail_first, self.code = [], fail_first, code
        self.score = score or (lambda e, ip: float(ip.split(".")[-1]))

    def invoke_endpoint(self, **kw):
        self.calls.append(kw)
        if len(self.calls) <= self.fail_first:
            raise ClientError(
                {
                    "Error": {"Code": self.code, "Message": "slow down"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "InvokeEndpoint",
            )
        rows = [line.split(",") for line in kw["Body"].decode().splitlines()]
        preds = [{"dot_product": self.score(e, ip)} for e, ip in rows]
        return {"Body": io.BytesIO(json.dumps({"predictions": preds}).encode())}


def test_requests_stay_under_the_payload_limit_and_keep_order():
    rt = FakeRuntime()
    ents = [f"e{i}" for i in range(1000)]
    ips = [f"10.0.0.{i % 250}" for i in range(1000)]
    out = invoke_pairs(rt, "ep", ents, ips, max_bytes=2000)
    assert out.requests == len(rt.calls) > 5
    assert all(len(c["Body"]) <= 2000 for c in rt.calls)
    assert out.dot_product.tolist() == [float(i % 250) for i in range(1000)]
    assert out.known_entity is None  # SageMaker's built-in model does not say


def test_batches_cover_everything_once():
    lines = [b"x" * n for n in (5, 5, 5, 20, 1)]
    assert _batches(lines, 10) == [(0, 2), (2, 3), (3, 4), (4, 5)]


def test_throttling_is_retried_with_backoff():
    rt, delays = FakeRuntime(fail_first=2), []
    out = invoke_pairs(rt, "ep", ["a"], ["1.1.1.9"], sleep=delays.append, base_delay=0.1)
    assert out.dot_product.tolist() == [9.0] and len(delays) == 2
    assert 0.05 <= delays[0] <= 0.15 and 0.1 <= delays[1] <= 0.3


def test_a_bad_request_is_not_retried():
    rt = FakeRuntime(fail_first=5, code="ValidationError")
    with pytest.raises(EndpointError, match="ValidationError: slow down"):
        invoke_pairs(rt, "ep", ["a"], ["1.1.1.1"], sleep=lambda s: None)
    assert len(rt.calls) == 1
