import pytest

from lakewatch.model.hyperparameters import (
    SPECS,
    HyperparameterError,
    parse_assignments,
    resolve,
)

SAGEMAKER_DEFAULTS = {
    "epochs": 10,
    "learning_rate": 0.001,
    "mini_batch_size": 10_000,
    "num_ip_encoder_layers": 1,
    "random_negative_sampling_rate": 1,
    "shuffled_negative_sampling_rate": 1,
    "weight_decay": 0.00001,
    "batch_metrics_publish_interval": 1000,
}


def test_defaults_are_sagemakers():
    hp = resolve({}, distinct_entities=300)
    for name, value in SAGEMAKER_DEFAULTS.items():
        assert getattr(hp, name) == value, name
    assert hp.num_entity_vectors == 600  # twice the distinct entities, as AWS recommends
    assert hp.vector_dim == 128


def test_strings_as_sagemaker_sends_them():
    hp = resolve({"epochs": "5", "learning_rate": "0.01", "vector_dim": "64"}, distinct_entities=1)
    assert (hp.epochs, hp.learning_rate, hp.vector_dim) == (5, 0.01, 64)
    assert hp.sagemaker()["epochs"] == "5"
    assert "ip_hash_buckets" not in hp.sagemaker() and "seed" not in hp.sagemaker()


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("vector_dim", 3, "4 <= vector_dim <= 4,096"),
        ("vector_dim", 4097, "4 <= vector_dim"),
        ("num_entity_vectors", 0, "1 <= num_entity_vectors <= 250,000,000"),
        ("mini_batch_size", 500_001, "mini_batch_size <= 500,000"),
        ("learning_rate", 0, "1e-06 <= learning_rate <= 10"),
        ("random_negative_sampling_rate", 501, "<= 500"),
        ("shuffled_negative_sampling_rate", -1, "0 <= shuffled"),
        ("weight_decay", 11, "weight_decay <= 10"),
        ("num_ip_encoder_layers", 101, "<= 100"),
        ("epochs", "ten", "epochs must be an integer"),
        ("epochs", 2.5, "epochs must be an integer"),
        ("learning_rate", "fast", "learning_rate must be a number"),
    ],
)
def test_invalid_values_say_why(name, value, fragment):
    with pytest.raises(HyperparameterError, match=fragment.replace("+", r"\+")):
        resolve({name: value}, distinct_entities=10)


def test_unknown_name_lists_known_ones():
    with pytest.raises(HyperparameterError, match=r"unknown hyperparameter.*epoch_count"):
        resolve({"epoch_count": 3}, distinct_entities=1)


def test_cli_assignments():
    assert parse_assignments(["epochs=3", " vector_dim = 8 "]) == {"epochs": "3", "vector_dim": "8"}
    with pytest.raises(HyperparameterError, match="NAME=VALUE"):
        parse_assignments(["epochs"])


def test_every_sagemaker_name_is_known():
    assert set(SAGEMAKER_DEFAULTS) | {"num_entity_vectors", "vector_dim"} <= set(SPECS)


def test_schedule_gives_small_data_enough_steps_and_large_data_sagemakers_defaults():
    from lakewatch.model.hyperparameters import MIN_STEPS, schedule

    for pairs in (50_000, 80_000, 300_000):
        batch, epochs = schedule(pairs)
        assert batch < 10_000
        assert epochs * -(-pairs // batch) >= MIN_STEPS
    assert schedule(50_000_000) == (10_000, 10)  # SageMaker's own defaults
    assert schedule(1000)[0] == 500 and schedule(1000)[1] == 100  # capped
    hp = resolve({}, distinct_entities=10, pairs=80_000)
    assert (hp.mini_batch_size, hp.epochs) == schedule(80_000)
    given = resolve({"mini_batch_size": 2000, "epochs": 3}, distinct_entities=10, pairs=80_000)
    assert (given.mini_batch_size, given.epochs) == (2000, 3)  # explicit values win
    assert resolve({}, distinct_entities=10).mini_batch_size == 10_000  # no size: SageMaker's


def test_the_default_address_table_grows_with_the_data_up_to_a_bound():
    from lakewatch.model.hyperparameters import MAX_DEFAULT_IP_BUCKETS, default_ip_buckets

    assert default_ip_buckets(10_000) == 1 << 16
    assert default_ip_buckets(100_000) == 1 << 19  # 4 tokens' room per address, a power of 2
    assert default_ip_buckets(10**9) == MAX_DEFAULT_IP_BUCKETS == 1 << 20
    # the table and its two Adam moments at vector_dim 128, float32: bounded whatever the data
    assert 3 * MAX_DEFAULT_IP_BUCKETS * 128 * 4 <= 1.5 * 2**30
