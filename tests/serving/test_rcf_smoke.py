"""aws.endpoint.invoke_rcf and serving.rcf_smoke: feature rows go to an endpoint as SageMaker
RCF's text/csv and come back as its {"scores": [{"score": x}]}, in order over batches; the
deploy's smoke check passes a real forest and fails an endpoint that cannot tell far rows."""

import io
import json

import numpy as np
import pytest
from botocore.exceptions import ClientError

from lakewatch.aws.endpoint import EndpointError, invoke_rcf
from lakewatch.model.rcf.forest import fit
from lakewatch.model.rcf.hyperparameters import resolve_rcf
from lakewatch.model.rcf.protocol import parse_request, render
from lakewatch.serving.rcf_smoke import far_rows, rcf_smoke_check
from lakewatch.serving.smoke import SmokeCheckFailed


class ForestRuntime:
    """The sagemaker-runtime boundary in front of a forest, in SageMaker RCF's formats (the
    model server's own parser and renderer)."""

    def __init__(self, forest, fail_first=0, answer=None):
        self.forest, self.calls, self.fail_first, self.answer = forest, [], fail_first, answer

    def invoke_endpoint(self, **kw):
        self.calls.append(kw)
        if len(self.calls) <= self.fail_first:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}},
                "InvokeEndpoint",
            )
        rows = parse_request(kw["Body"], kw["ContentType"], self.forest.feature_dim)
        if self.answer is not None:
            return {"Body": io.BytesIO(self.answer(rows))}
        body, _ = render(self.forest.score(rows), kw["Accept"])
        return {"Body": io.BytesIO(body)}


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    normal = rng.normal(size=(3000, 6))
    return normal, fit(normal, resolve_rcf({"num_trees": 50}, columns=6), seed=1)


def test_rows_are_scored_in_order_across_batches(trained):
    normal, forest = trained
    rt = ForestRuntime(forest)
    rows = normal[:300]
    got = invoke_rcf(rt, "ep", rows, max_bytes=4000)
    assert len(rt.calls) > 5 and {c["ContentType"] for c in rt.calls} == {"text/csv"}
    np.testing.assert_allclose(got, forest.score(rows), rtol=1e-6)


def test_throttling_is_retried_and_a_wrong_answer_is_an_error(trained):
    normal, forest = trained
    rt = ForestRuntime(forest, fail_first=2)
    assert len(invoke_rcf(rt, "ep", normal[:3], sleep=lambda _: None)) == 3
    short = ForestRuntime(forest, answer=lambda rows: json.dumps({"scores": []}).encode())
    with pytest.raises(EndpointError, match="0 scores for 3 rows"):
        invoke_rcf(short, "ep", normal[:3])
    ipi = ForestRuntime(forest, answer=lambda rows: b'{"predictions": []}')
    with pytest.raises(EndpointError, match="not Random Cut Forest JSON"):
        invoke_rcf(ipi, "ep", normal[:3])


def test_smoke_check_passes_a_forest_and_fails_a_blind_endpoint(trained):
    normal, forest = trained
    result = rcf_smoke_check(ForestRuntime(forest), "ep", normal, max_rows=200)
    assert result.auc > 0.95 and result.rows == 200 and result.far_median > result.normal_median
    blind = ForestRuntime(
        forest,
        answer=lambda rows: json.dumps({"scores": [{"score": 1.0} for _ in rows]}).encode(),
    )
    with pytest.raises(SmokeCheckFailed, match="below the required"):
        rcf_smoke_check(blind, "ep", normal, max_rows=100)
    with pytest.raises(SmokeCheckFailed, match="no normal rows"):
        rcf_smoke_check(ForestRuntime(forest), "ep", np.empty((0, 6)))


def test_far_rows_move_one_feature_each():
    normal = np.zeros((50, 4))
    far = far_rows(normal, shift=8.0)
    assert (np.count_nonzero(far, axis=1) == 1).all() and far.max() == 8.0
