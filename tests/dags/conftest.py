import pytest

from lakewatch.lake.sink import S3Store
from lakewatch.lake.synthetic import GenerateOptions
from lakewatch.lake.write import write_lake
from tests.dags.helpers import DAYS, START


@pytest.fixture
def lake(airflow_env, clients):
    """A generated lake in this test's emulator bucket; returns the tasks' settings."""
    settings, _ = airflow_env
    write_lake(
        GenerateOptions(days=DAYS, start=START, rows_per_day=4000, seed=21),
        S3Store(clients("s3"), settings.lake_bucket_name),
    )
    return settings
