import subprocess
import sys

import pytest

from lakewatch.backends import backend_for, clients_for
from lakewatch.settings import Settings


@pytest.mark.parametrize("backend", ["local", "aws"])
def test_clients_for_is_what_the_backend_gives(backend):
    settings = Settings(backend=backend, model_server_port=9999)
    ours, theirs = clients_for(settings), backend_for(settings).clients()
    for service in ("s3", "sqs", "sagemaker-runtime"):
        assert ours.endpoint_url(service) == theirs.endpoint_url(service), service
    assert ours.credentials() == theirs.credentials()


def test_clients_for_does_not_import_a_backend():
    code = (
        "import sys\n"
        "from lakewatch.backends import clients_for\n"
        "from lakewatch.settings import Settings\n"
        "clients_for(Settings(backend='local'))\n"
        "print(sorted(m for m in sys.modules if m in "
        "('lakewatch.backends.local', 'lakewatch.backends.aws', 'duckdb')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"  # a CLI process's 0.6 s


def test_the_backend_classes_are_still_importable_by_name():
    from lakewatch.backends import AwsBackend, Backend, LocalBackend

    assert {AwsBackend.name, LocalBackend.name} == {"aws", "local"} and Backend
    with pytest.raises(ImportError, match="cannot import name 'Nothing'"):
        from lakewatch.backends import Nothing  # noqa: F401
