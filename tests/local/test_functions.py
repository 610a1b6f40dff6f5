"""local.functions: the scorer's zip unpacked as Lambda would (once per package, never a path
outside its folder), and run under the local event source mapping, restarted only when the
package or its configuration changed."""

import hashlib
import io
import zipfile

import psutil
import pytest

from lakewatch.local.functions import LOCAL_PROCESS, deploy_local, install_local
from lakewatch.local.processes import ProcessRegistry
from lakewatch.serving.lambda_config import local_environment, scorer_config
from lakewatch.serving.lambda_package import Package, build


def _zip(files: dict[str, bytes]) -> Package:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    body = buf.getvalue()
    return Package(body, hashlib.sha256(body).hexdigest())


def test_a_package_is_unpacked_once_into_its_own_folder(tmp_path):
    package = _zip({"app.py": b"x = 1\n", "lakewatch/__init__.py": b""})
    target = install_local(package, tmp_path)
    assert target == tmp_path.resolve() / "lambda" / package.sha256[:16]
    assert (target / "app.py").read_bytes() == b"x = 1\n"
    (target / "app.py").write_bytes(b"x = 2\n")
    assert install_local(package, tmp_path) == target  # already there: left as it is
    assert (target / "app.py").read_bytes() == b"x = 2\n"


@pytest.mark.parametrize("name", ["../escape.py", "/etc/passwd", "lakewatch/../../up.py"])
def test_a_zip_reaching_outside_its_folder_is_refused(tmp_path, name):
    with pytest.raises(ValueError, match="unsafe path in the deployment zip"):
        install_local(_zip({"app.py": b"", name: b"boom"}), tmp_path / "state")
    assert not (tmp_path / "escape.py").exists() and not (tmp_path / "up.py").exists()


def test_the_runtime_restarts_only_when_the_deployment_changes(aws, clients, tmp_path):
    settings, resources = aws
    env = local_environment(settings, scorer_config(settings, clients))
    kwargs = dict(
        state_dir=tmp_path / "state",
        run_dir=tmp_path / "run",
        queue_url=resources.queue_url,
        account=settings.account_id,
    )
    (tmp_path / "run").mkdir()
    try:
        first = deploy_local(build(), env, **kwargs)
        assert first.changed and first.state == "Running"
        pid = ProcessRegistry(tmp_path / "run").running(LOCAL_PROCESS).pid
        again = deploy_local(build(), env, **kwargs)
        assert not again.changed
        assert ProcessRegistry(tmp_path / "run").running(LOCAL_PROCESS).pid == pid
        resized = deploy_local(build(), env, **{**kwargs, "batch_size": 5})
        assert resized.changed
        resized_pid = ProcessRegistry(tmp_path / "run").running(LOCAL_PROCESS).pid
        assert resized_pid != pid
        # the same package with another configuration (the served model's pair set, known
        # once the IP Insights model is deployed): restarted with it, as Lambda would
        signin = {**env, "LAKEWATCH_PAIRS": "dns_answer+egress_peer+ingress_peer+signin"}
        reconfigured = deploy_local(build(), signin, **{**kwargs, "batch_size": 5})
        assert reconfigured.changed
        running = ProcessRegistry(tmp_path / "run").running(LOCAL_PROCESS)
        assert running.pid != resized_pid
        assert "signin" in psutil.Process(running.pid).environ()["LAKEWATCH_PAIRS"]
    finally:
        ProcessRegistry(tmp_path / "run").stop_all()
