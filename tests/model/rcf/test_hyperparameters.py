"""SageMaker RCF's names, defaults and ranges."""

import pytest

from lakewatch.model.rcf.hyperparameters import RcfHyperparameterError, resolve_rcf


def test_defaults_are_sagemakers_and_feature_dim_comes_from_the_data():
    hp = resolve_rcf({}, columns=7)
    assert (hp.feature_dim, hp.num_trees, hp.num_samples_per_tree) == (7, 100, 256)
    assert hp.eval_metrics == ("accuracy", "precision_recall_fscore")


def test_values_as_sagemaker_passes_them():
    hp = resolve_rcf(
        {"feature_dim": "3", "num_trees": "50", "eval_metrics": '["accuracy"]'}, columns=3
    )
    assert (hp.num_trees, hp.eval_metrics) == (50, ("accuracy",))
    assert resolve_rcf({"feature_dim": 3, "eval_metrics": "accuracy"}).eval_metrics == ("accuracy",)


@pytest.mark.parametrize(
    "given, columns, message",
    [
        ({}, None, "feature_dim is required"),
        ({"feature_dim": "4"}, 3, "feature_dim=4 but the training data has 3 columns"),
        ({"num_trees": "10"}, 3, r"num_trees=10 is outside SageMaker's range \[50, 1000\]"),
        ({"num_samples_per_tree": "4096"}, 3, "outside SageMaker's range"),
        ({"num_trees": "many"}, 3, "num_trees must be an integer"),
        ({"eval_metrics": "auc"}, 3, "eval_metrics takes a list of"),
        ({"epochs": "3"}, 3, "unknown RCF hyperparameter"),
    ],
)
def test_refused_as_sagemaker_refuses(given, columns, message):
    with pytest.raises(RcfHyperparameterError, match=message):
        resolve_rcf(given, columns=columns)
