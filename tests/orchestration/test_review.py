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
