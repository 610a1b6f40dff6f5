"""boto3 clients that tests point at lakewatch's own servers."""

import boto3
from botocore.config import Config


def runtime_client(url: str):
    """A ``sagemaker-runtime`` client for a model server or router, with no retries."""
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}),
    )
