"""serving.canary: the hourly check's pairs are chosen through the endpoint as the scorer would
score them (a known pair above the threshold, a random public address below it), the check
refuses to run when no such pairs exist, and the queue health reads the real queues."""

import threading

import numpy as np
import pytest

from lakewatch.local.emulator import free_port
from lakewatch.local.model_server import ModelServer
from lakewatch.serving.canary import CheckFailed, choose_pairs, queue_health
from tests.clients import runtime_client


@pytest.fixture(scope="module")
def runtime(trained):
    server = ModelServer(trained[1], port=free_port(), endpoint_name="ep")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield runtime_client(server.url)
    server.shutdown()
    server.server_close()


def _dots(runtime, ents, ips):
    from lakewatch.aws.endpoint import invoke_pairs

    return invoke_pairs(runtime, "ep", ents, ips).dot_product


def test_a_known_pair_above_and_a_random_address_below(runtime, lake_pairs):
    candidates = list(zip(*[col[:400] for col in lake_pairs], strict=True))
    known = _dots(runtime, [e for e, _ in candidates], [ip for _, ip in candidates])
    threshold = float(np.nanquantile(known, 0.05))
    entity, normal_ip, bad_ip = choose_pairs(runtime, "ep", threshold, candidates, seed=3)
    assert (entity, normal_ip) in candidates
    normal, bad = _dots(runtime, [entity, entity], [normal_ip, bad_ip])
    assert normal > threshold > bad
    assert choose_pairs(runtime, "ep", threshold, candidates, seed=3) == (entity, normal_ip, bad_ip)


def test_no_usable_pairs_is_a_clear_refusal(runtime, lake_pairs):
    candidates = list(zip(*[col[:50] for col in lake_pairs], strict=True))
    with pytest.raises(CheckFailed, match="no known egress pairs"):
        choose_pairs(runtime, "ep", 0.0, [(f"{e}/in", ip) for e, ip in candidates], seed=1)
    with pytest.raises(CheckFailed, match="no known pair scores above"):
        choose_pairs(runtime, "ep", 1e9, candidates, seed=1)
    with pytest.raises(CheckFailed, match="no random or foreign address scores below"):
        choose_pairs(runtime, "ep", -1e9, candidates, seed=1)


def test_queue_health_counts_both_queues(aws, clients):
    from lakewatch.lake import notify

    settings, _ = aws
    sqs = clients("sqs")
    url = sqs.get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
    notify.send(sqs, url, [{"probe": k} for k in range(3)])
    health = queue_health(settings, clients, "Enabled")
    assert health.to_json() == {"dlq_depth": 0, "queue_depth": 3, "mapping": "Enabled"}


def test_an_instance_with_no_flagged_random_address_is_passed_over(runtime, lake_pairs):
    """The best-scoring instance may have used most /8s (random addresses look familiar):
    the canary takes the next instance whose random address the scorer does flag."""
    candidates = list(zip(*[col[:400] for col in lake_pairs], strict=True))
    egress = [e for e, _ in candidates if not e.endswith("/in")]
    busy, quiet = egress[0], next(e for e in egress if e != egress[0])

    class Scores:  # the scorer's verdicts: known pairs rank busy first; busy's randoms pass
        def score_pairs(self, ents, ips, dots):
            known = {(e, ip) for e, ip in candidates}
            return np.array(
                [
                    (10.0 if e == busy else 5.0 if e == quiet else 0.0)
                    if (e, ip) in known
                    else (1.0 if e == busy else -5.0)
                    for e, ip in zip(ents, ips, strict=True)
                ]
            )

    entity, _, bad_ip = choose_pairs(runtime, "ep", 0.5, candidates, seed=3, found=Scores())
    assert entity == quiet and bad_ip
