"""The local runtime invokes the function in its own process, from its own files: warm
between calls, restarted after a crash or a timeout, failures reported as failed invocations."""

import textwrap

import pytest

from lakewatch.local.lambda_runtime import InvocationError, LambdaContext, SandboxHandler

APP = textwrap.dedent(
    """
    import os, sys, time
    STARTED = os.getpid()

    def lambda_handler(event, context):
        print("a log line")  # must not disturb the runtime's protocol
        what = event.get("do")
        if what == "raise":
            raise ValueError("bad batch")
        if what == "crash":
            os._exit(3)
        if what == "sleep":
            time.sleep(5)
        return {
            "pid": STARTED,
            "function": context.function_name,
            "left_ms": context.get_remaining_time_in_millis(),
            "path0": sys.path[0],
            "echo": event,
        }
    """
)


@pytest.fixture
def sandbox(tmp_path):
    (tmp_path / "app.py").write_text(APP)
    handler = SandboxHandler(tmp_path, env={"PATH": "/usr/bin"})
    yield handler, tmp_path
    handler.close()


def _context(timeout_s: float = 30) -> LambdaContext:
    return LambdaContext("lakewatch-scorer", "us-east-1", "123456789012", timeout_s)


def test_the_function_answers_from_its_own_folder_and_stays_warm(sandbox):
    handler, app_dir = sandbox
    first = handler({"n": 1}, _context())
    assert first["echo"] == {"n": 1} and first["function"] == "lakewatch-scorer"
    assert first["path0"] == str(app_dir) and 0 < first["left_ms"] <= 30_000
    assert handler({"n": 2}, _context())["pid"] == first["pid"]  # the same warm process


def test_a_raise_fails_the_invocation_and_the_process_stays(sandbox):
    handler, _ = sandbox
    pid = handler({}, _context())["pid"]
    with pytest.raises(InvocationError, match="ValueError: bad batch"):
        handler({"do": "raise"}, _context())
    assert handler({}, _context())["pid"] == pid


def test_a_crash_fails_the_invocation_and_the_next_one_starts_afresh(sandbox):
    handler, _ = sandbox
    pid = handler({}, _context())["pid"]
    with pytest.raises(InvocationError, match="exited"):
        handler({"do": "crash"}, _context())
    assert handler({}, _context())["pid"] != pid


def test_a_function_past_its_timeout_is_stopped(sandbox):
    handler, _ = sandbox
    with pytest.raises(InvocationError, match="timed out"):
        handler({"do": "sleep"}, _context(timeout_s=0.5))
    assert handler({"n": 3}, _context())["echo"] == {"n": 3}


PROBE = textwrap.dedent(
    """
    import importlib.util

    def lambda_handler(event, context):
        return {name: importlib.util.find_spec(name) is not None for name in event["names"]}
    """
)


def test_with_a_layer_the_function_sees_its_layer_and_the_runtimes_boto3_only(tmp_path):
    app, layer = tmp_path / "app", tmp_path / "layer" / "python"
    app.mkdir()
    layer.mkdir(parents=True)
    (app / "app.py").write_text(PROBE)
    (layer / "from_the_layer.py").write_text("")
    names = ["from_the_layer", "boto3", "botocore", "pyarrow", "pytest", "lakewatch"]
    isolated = SandboxHandler(app, env={"PATH": "/usr/bin"}, layer_dir=layer.parent)
    plain = SandboxHandler(app, env={"PATH": "/usr/bin"})
    context = LambdaContext("f", "us-east-1", "123456789012", 30)
    try:
        seen = isolated({"names": names}, context)
        assert seen == {
            "from_the_layer": True,
            "boto3": True,  # Lambda's runtime has it
            "botocore": True,
            "pyarrow": False,  # not in this layer: on Lambda it would not be there either
            "pytest": False,
            "lakewatch": False,  # nor the repository's source
        }
        assert plain({"names": names}, context)["pyarrow"] is True  # this environment's
    finally:
        isolated.close()
        plain.close()
    isolated({"names": ["boto3"]}, context)  # a closed sandbox starts again, runtime and all
    isolated.close()
