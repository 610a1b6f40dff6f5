"""cli.common: argument types refuse with argparse's message, and the operate context is the
environment's settings with clients for its backend."""

import argparse
from datetime import date

import pytest

from lakewatch.cli.common import context, iso_date, positive


def test_argument_types():
    assert iso_date("2026-11-30") == date(2026, 11, 30)
    with pytest.raises(argparse.ArgumentTypeError, match="not a YYYY-MM-DD date: '30/11/2026'"):
        iso_date("30/11/2026")
    assert positive("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match="must be at least 1: 0"):
        positive("0")


def test_context_reads_the_environment(monkeypatch):
    monkeypatch.setenv("LAKEWATCH_ENDPOINT_NAME", "from-env")
    monkeypatch.setenv("LAKEWATCH_MODEL_SERVER_PORT", "9876")
    settings, clients = context()
    assert settings.endpoint_name == "from-env"
    assert clients.endpoint_url("sagemaker-runtime") == "http://127.0.0.1:9876"
