"""orchestration.train_tasks: the train DAG's hyperparameter params are typed from their
defaults (unset ones sized to the window), and the branch follows the validated job."""

import pytest

from lakewatch.orchestration import train_tasks
from lakewatch.training import pipeline


def test_each_hyperparameter_is_a_param_typed_by_its_default():
    params = train_tasks.hyperparameter_params()
    assert list(params) == list(pipeline.HP_PARAMS)
    epochs, vector_dim, rate = params["epochs"], params["vector_dim"], params["learning_rate"]
    assert epochs.value is None and epochs.schema["type"] == ["null", "integer"]
    assert "empty: sized to the window" in epochs.description
    assert vector_dim.schema["type"] == "integer" and "sized" not in vector_dim.description
    assert rate.schema["type"] == "number"
    assert rate.description == "IP Insights hyperparameter learning_rate (SageMaker's meaning)"


@pytest.mark.parametrize("action, task_id", sorted(train_tasks.TRAINING_TASKS.items()))
def test_the_branch_runs_the_task_the_jobs_action_names(action, task_id):
    assert train_tasks.choose_training({"action": action}) == task_id


def test_a_job_the_branch_cannot_read_fails_it():
    with pytest.raises(ValueError, match="action"):
        train_tasks.choose_training({"action": "train", "name": "ipi-1"})
