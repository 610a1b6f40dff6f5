"""The model server through boto3's sagemaker-runtime client with endpoint_url, as users call it."""

import json
import subprocess
import urllib.request

import numpy as np
import pytest
from botocore.exceptions import ClientError

from lakewatch.local.emulator import free_port
from lakewatch.local.endpoints import serve_command
from lakewatch.local.processes import wait_for
from lakewatch.model.artifact import ModelArtifact
from lakewatch.model.inference import Inference
from tests.clients import runtime_client

ENDPOINT = "lakewatch-test"


@pytest.fixture(scope="module")
def server(trained):
    _, model_dir = trained
    port = free_port()
    proc = subprocess.Popen(
        serve_command(model_dir, port, endpoint_name=ENDPOINT),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return urllib.request.urlopen(f"{url}/ping", timeout=1).status == 200
        except OSError:
            return False

    wait_for(up, 60, what="the model server")
    yield url, Inference(ModelArtifact.load(model_dir))
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def runtime(server):
    url, _ = server
    return runtime_client(url)


def _invoke(runtime, body, content_type, accept="application/json"):
    resp = runtime.invoke_endpoint(
        EndpointName=ENDPOINT, Body=body, ContentType=content_type, Accept=accept
    )
    return resp["ContentType"], resp["Body"].read().decode()


def test_ping_and_binds_loopback(server):
    url, _ = server
    assert url.startswith("http://127.0.0.1:")
    assert urllib.request.urlopen(f"{url}/ping").status == 200


def test_csv_scores_match_the_inference_in_order(server, runtime, lake_pairs):
    _, inference = server
    ents, ips = lake_pairs[0][:50], lake_pairs[1][:50]
    body = "".join(f"{e}, {ip}\n" for e, ip in zip(ents, ips, strict=True))
    ctype, out = _invoke(runtime, body, "text/csv")
    assert ctype == "application/json"
    preds = json.loads(out)["predictions"]
    want = inference.score(ents, ips).dot_product
    assert np.allclose([p["dot_product"] for p in preds], want, atol=1e-5)
    assert all(p["known_entity"] for p in preds)
    # the plain form (the fast parse), twice: the second from the server's entity-hash cache
    plain = "".join(f"{e},{ip}\n" for e, ip in zip(ents, ips, strict=True))
    for _ in range(2):
        assert json.loads(_invoke(runtime, plain, "text/csv")[1])["predictions"] == preds


def test_json_accepts_both_instance_forms(runtime, lake_pairs):
    e, ip = lake_pairs[0][0], lake_pairs[1][0]
    body = json.dumps(
        {
            "instances": [
                {"data": {"features": {"values": [e, ip]}}},
                {"features": ["i-new", "10.9.9.9"]},
            ]
        }
    )
    _, out = _invoke(runtime, body, "application/json")
    preds = json.loads(out)["predictions"]
    assert len(preds) == 2 and [p["known_entity"] for p in preds] == [True, False]


def test_jsonlines_in_and_out(runtime):
    body = '{"features": ["a", "1.1.1.1"]}\n{"data": {"features": {"values": ["b", "2.2.2.2"]}}}\n'
    ctype, out = _invoke(runtime, body, "application/jsonlines", "application/jsonlines")
    assert ctype == "application/jsonlines"
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2 and all("dot_product" in p for p in lines)


def test_verbose_adds_embeddings(runtime, trained):
    result, _ = trained
    _, out = _invoke(runtime, "a,1.1.1.1\n", "text/csv", "application/json; verbose=True")
    pred = json.loads(out)["predictions"][0]
    assert len(pred["entity_embedding"]) == len(pred["ip_embedding"]) == result.hp.vector_dim
    assert np.isclose(
        np.dot(pred["entity_embedding"], pred["ip_embedding"]), pred["dot_product"], atol=1e-4
    )


def test_container_path_invocations(server):
    url, _ = server
    req = urllib.request.Request(
        f"{url}/invocations", data=b"a,1.1.1.1\n", headers={"Content-Type": "text/csv"}
    )
    assert "predictions" in json.loads(urllib.request.urlopen(req).read())


@pytest.mark.parametrize(
    ("body", "ctype", "accept", "status", "message"),
    [
        ("a,1.1.1.1\nb\n", "text/csv", "application/json", 400, "line 2: expected 2 columns"),
        (
            json.dumps(
                {"instances": [{"features": ["a", "1.1.1.1"]}, {"features": ["b", "1.1.1"]}]}
            ),
            "application/json",
            "application/json",
            400,
            "instance 2: '1.1.1' is not an IP address",
        ),
        (
            json.dumps({"instances": [{"features": ["a"]}]}),
            "application/json",
            "application/json",
            400,
            "instance 1: expected [entity, address]",
        ),
        ("{not json", "application/json", "application/json", 400, "body is not JSON"),
        (
            "a,1.1.1.1",
            "application/x-recordio-protobuf",
            "application/json",
            415,
            "unsupported Content-Type",
        ),
        ("a,1.1.1.1", "text/csv", "text/csv", 406, "unsupported Accept"),
        ("", "text/csv", "application/json", 400, "no (entity, address) pairs"),
    ],
)
def test_bad_requests_get_4xx_naming_the_row(runtime, body, ctype, accept, status, message):
    with pytest.raises(ClientError) as err:
        _invoke(runtime, body, ctype, accept)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert message in err.value.response["Error"]["Message"]


def test_payload_over_six_megabytes_is_413(runtime):
    body = "a,1.1.1.1\n" * 700_000  # 7 MB
    with pytest.raises(ClientError) as err:
        _invoke(runtime, body, "text/csv")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_other_endpoint_name_is_404(server):
    url, _ = server
    other = runtime_client(url)
    with pytest.raises(ClientError) as err:
        other.invoke_endpoint(
            EndpointName="someone-else", Body=b"a,1.1.1.1", ContentType="text/csv"
        )
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_server_survives_bad_requests(runtime):
    for _ in range(3):
        with pytest.raises(ClientError):
            _invoke(runtime, "garbage", "text/csv")
    assert _invoke(runtime, "a,1.1.1.1\n", "text/csv")[0] == "application/json"


# -- an RCF model: SageMaker RCF's formats on the same server --------------------------------


@pytest.fixture(scope="module")
def rcf_runtime(tmp_path_factory):
    from lakewatch.training.rcf_jobs import run_rcf_training

    folder = tmp_path_factory.mktemp("rcf")
    rows = np.random.default_rng(3).normal(size=(2000, 3))
    np.savetxt(folder / "train.csv", rows, delimiter=",", fmt="%.6f")
    run_rcf_training(
        str(folder / "train.csv"), str(folder / "model"), ["num_trees=50"], log=lambda _: None
    )
    port = free_port()
    proc = subprocess.Popen(
        serve_command(str(folder / "model"), port, endpoint_name=ENDPOINT),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return urllib.request.urlopen(f"{url}/ping", timeout=1).status == 200
        except OSError:
            return False

    wait_for(up, 60, what="the RCF model server")
    yield runtime_client(url)
    proc.terminate()
    proc.wait(10)


def test_rcf_answers_csv_and_json_with_scores(rcf_runtime):
    ctype, body = _invoke(rcf_runtime, "0,0,0\n9,9,9\n", "text/csv")
    scores = [s["score"] for s in json.loads(body)["scores"]]
    assert ctype == "application/json" and len(scores) == 2 and scores[1] > scores[0]
    request = {"instances": [{"features": [0, 0, 0]}, {"features": [9, 9, 9]}]}
    _, body = _invoke(rcf_runtime, json.dumps(request), "application/json")
    assert [s["score"] for s in json.loads(body)["scores"]] == scores
    ctype, body = _invoke(rcf_runtime, "0,0,0\n", "text/csv", accept="application/jsonlines")
    assert ctype == "application/jsonlines" and json.loads(body) == {"score": scores[0]}


@pytest.mark.parametrize(
    "body, ctype, message",
    [
        ("1,2\n", "text/csv", "row 1: 2 value(s), expected 3 (the model's feature_dim is 3)"),
        ('{"instances": [{"features": [1, 2, 3, 4]}]}', "application/json", "feature_dim is 3"),
        ("1,2,nan\n", "text/csv", "row 1: value 3 is not finite"),
    ],
)
def test_rcf_wrong_width_or_non_finite_is_400(rcf_runtime, body, ctype, message):
    with pytest.raises(ClientError) as err:
        _invoke(rcf_runtime, body, ctype)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message in err.value.response["Error"]["Message"]
