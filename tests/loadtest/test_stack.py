"""The load test's stack refuses anything but the local backend on loopback, before it starts
a process, and keeps its state (and so its processes) in a folder of its own."""

import pytest

from lakewatch.loadtest.stack import Stack, StackOptions, is_loopback, require_loopback
from lakewatch.settings import Settings


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.53", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("10.0.0.5", False),
        ("0.0.0.0", False),
        ("sqs.us-east-1.amazonaws.com", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"backend": "aws"}, "local backend only"),
        ({"endpoint_url": "http://10.1.2.3:5055"}, "not a loopback address"),
        ({"endpoint_url": "https://sqs.us-east-1.amazonaws.com"}, "not a loopback address"),
        ({"emulator_host": "0.0.0.0"}, "not a loopback address"),
        ({"model_server_host": "192.168.1.10"}, "must listen on loopback"),
        ({"endpoint_url": "http://127.0.0.1:6000", "emulator_port": 6001}, "is not the emulator"),
    ],
)
def test_anything_off_loopback_is_refused(overrides, message, tmp_path):
    settings = Settings(**overrides)
    with pytest.raises(ValueError, match=message):
        require_loopback(settings)
    with pytest.raises(ValueError, match=message):
        Stack(settings, tmp_path)  # refused before anything starts
    assert not (tmp_path / "state").exists()


def test_the_stack_keeps_its_own_state_and_queue_settings(tmp_path):
    settings = Settings(emulator_port=45001, model_server_port=45002, state_dir=tmp_path / "mine")
    stack = Stack(
        settings, tmp_path / "lt", StackOptions(visibility_timeout_s=3, max_receive_count=4)
    )
    assert stack.settings.state_dir == (tmp_path / "lt" / "state").resolve()
    assert stack.settings.run_dir == (tmp_path / "lt" / "state" / "run").resolve()
    assert (stack.settings.visibility_timeout_s, stack.settings.max_receive_count) == (3, 4)
    assert (stack.settings.emulator_port, stack.settings.model_server_port) == (45001, 45002)
    assert settings.state_dir == tmp_path / "mine"  # the caller's settings are not changed


def test_the_users_own_state_folder_is_refused(tmp_path):
    settings = Settings(state_dir=tmp_path / "state")
    with pytest.raises(ValueError, match="another stack's state"):
        Stack(settings, tmp_path)
