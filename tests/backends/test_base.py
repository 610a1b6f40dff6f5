"""backends.base: both backends implement the whole seam with the protocol's signatures, and
the setting alone chooses between them."""

import inspect

import pytest

from lakewatch.backends import AwsBackend, Backend, LocalBackend, backend_for, clients_for
from lakewatch.settings import Settings

_METHODS = [
    name
    for name, member in inspect.getmembers(Backend, inspect.isfunction)
    if not name.startswith("_")
]


@pytest.mark.parametrize("cls", [LocalBackend, AwsBackend])
def test_each_backend_implements_the_whole_seam(cls):
    assert len(_METHODS) >= 10
    for name in _METHODS:
        want = inspect.signature(getattr(Backend, name))
        got = inspect.signature(getattr(cls, name))
        assert list(got.parameters) == list(want.parameters), f"{cls.__name__}.{name}"


def test_the_setting_chooses_the_backend():
    assert isinstance(backend_for(Settings(backend="local")), LocalBackend)
    assert isinstance(backend_for(Settings(backend="aws")), AwsBackend)
    assert backend_for(Settings(backend="aws")).name == "aws"
    local = clients_for(Settings(backend="local", model_server_port=9999))
    assert local.endpoint_url("sagemaker-runtime") == "http://127.0.0.1:9999"
    assert clients_for(Settings(backend="aws")).endpoint_url("sagemaker-runtime") is None
