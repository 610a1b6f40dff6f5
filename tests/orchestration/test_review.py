"""orchestration.review: inside the API server the review desk takes its settings from the
Airflow Variable and reaches the results bucket through the provider's connection."""

import pytest

from lakewatch.orchestration.review import api_settings, desk
from tests.review.conftest import DAY


def test_the_desk_reads_the_variables_bucket_through_the_connection(airflow_env, reviewed):
    settings, _ = airflow_env
    assert api_settings().results_bucket_name == settings.results_bucket_name
    rows = desk().reviewed(DAY)
    assert [row.uid for row, _ in rows] == reviewed[2]


def test_a_variable_that_is_not_an_object_is_refused(airflow_env, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_LAKEWATCH", "[1, 2]")
    with pytest.raises(ValueError, match="must be a JSON object of settings"):
        api_settings()


def test_the_usual_index_is_kept_while_the_bucket_and_prefix_stay(monkeypatch):
    import lakewatch.orchestration.review as review
    from lakewatch.settings import Settings

    built = []
    monkeypatch.setattr(review, "UsualByModel", lambda store, prefix: built.append(prefix) or store)
    cache = review.UsualCache()
    settings = Settings(results_bucket="results", models_prefix="models/")
    assert cache.get(settings, "store-1") == "store-1"
    assert cache.get(settings, "store-2") == "store-1"
    moved = settings.model_copy(update={"models_prefix": "detectors/"})
    assert cache.get(moved, "store-3") == "store-3"
    assert built == ["models/", "detectors/"]
