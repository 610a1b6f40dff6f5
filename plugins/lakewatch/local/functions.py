"""The scorer function on ``local``: the deployment zip unpacked into the state folder and
run under lakewatch's event source mapping (``lambda_runtime``), which invokes it in a sandbox
process from the zip's files, as Lambda would."""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from io import BytesIO
from pathlib import Path

from lakewatch.local.processes import ProcessRegistry, wait_for
from lakewatch.serving.lambda_deploy import ScorerDeployment
from lakewatch.serving.lambda_package import Package

LOCAL_PROCESS = "scorer"


def install_local(package: Package, state_dir: Path) -> Path:
    """Unpack the zip under ``<state_dir>/lambda/<sha>/`` (idempotent)."""
    target = state_dir.resolve() / "lambda" / package.sha256[:16]
    if not (target / "app.py").exists():
        tmp = target.with_name(target.name + ".tmp")
        with zipfile.ZipFile(BytesIO(package.body)) as zf:
            for info in zf.infolist():  # refuse paths that leave the folder
                if info.filename.startswith("/") or ".." in Path(info.filename).parts:
                    raise ValueError(f"unsafe path in the deployment zip: {info.filename}")
            zf.extractall(tmp)
        tmp.replace(target)
    return target


def deploy_local(
    package: Package,
    env: dict[str, str],
    *,
    state_dir: Path,
    run_dir: Path,
    queue_url: str,
    account: str,
    batch_size: int = 10,
    batching_window_s: float = 1.0,
) -> ScorerDeployment:
    """Run the package under the local runtime; restart only when the package or the
    function's environment changed (as Lambda publishes a version for either: a scorer
    deployed before the IP Insights model existed must take its pair set when it comes).

    ``env`` is the handler's environment (``serving.lambda_config.local_environment``). The runtime
    (lakewatch's own event source mapping) runs apart from the function, which it invokes in
    a sandbox process importing app.py and the lakewatch modules of the unpacked zip alone,
    as Lambda would (``lambda_runtime.SandboxHandler``).
    """
    app_dir = install_local(package, state_dir)
    registry = ProcessRegistry(run_dir)
    argv = [
        sys.executable,
        "-m",
        "lakewatch",
        "scorer",
        "run",
        "--app-dir",
        str(app_dir),
        "--queue-url",
        queue_url,
        "--batch-size",
        str(batch_size),
        "--batching-window",
        str(batching_window_s),
    ]
    full_env = {
        **env,
        "LAKEWATCH_ACCOUNT_ID": account,
        "LAKEWATCH_SQL_DIR": str(app_dir / "lakewatch" / "extract" / "sql"),
    }
    config = hashlib.sha256(json.dumps(full_env, sort_keys=True).encode()).hexdigest()
    running = registry.running(LOCAL_PROCESS)
    if running and running.argv == argv and running.config == config:
        return ScorerDeployment(
            LOCAL_PROCESS, package.sha256[:16], package.code_sha256, LOCAL_PROCESS, "Running", False
        )
    registry.stop(LOCAL_PROCESS)
    record = registry.start(
        LOCAL_PROCESS,
        argv,
        cwd=run_dir,  # not the app folder: ``-m lakewatch`` must find the runtime's package
        env=full_env,
        config=config,
    )
    wait_for(
        lambda: record.alive() and "polling" in Path(record.log).read_text(),
        60,
        what=f"the scorer runtime ({record.log})",
    )
    return ScorerDeployment(
        LOCAL_PROCESS, package.sha256[:16], package.code_sha256, LOCAL_PROCESS, "Running", True
    )
