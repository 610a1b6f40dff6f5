"""orchestration.scorer_check_tasks: the queue check's policy: messages the scorer gave up on
beyond what the check tolerates, or a scorer that does not consume, each say what to do."""

from lakewatch.orchestration.scorer_check_tasks import problems
from lakewatch.serving.canary import QueueHealth


def test_a_healthy_queue_has_no_problems():
    for mapping in ("Enabled", "Running"):
        assert problems(QueueHealth(dlq_depth=0, queue_depth=3, mapping=mapping), "dlq", 0) == []
    assert (
        problems(QueueHealth(dlq_depth=2, queue_depth=0, mapping="Enabled"), "dlq", 2) == []
    )  # tolerated


def test_dead_letters_and_a_stopped_scorer_are_both_named():
    found = problems(
        QueueHealth(dlq_depth=4, queue_depth=0, mapping="Disabled"), "lakewatch-dlq", 1
    )
    assert found == [
        "the dead-letter queue lakewatch-dlq holds 4 messages: read their lakewatch-error "
        "attribute, fix, then redrive (docs/operate.md)",
        "scorer not consuming: Disabled",
    ]
