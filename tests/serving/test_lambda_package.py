"""serving.lambda_package: the function zip is deterministic and holds exactly the handler's
modules and SQL; the installed function imports from its own files, never scipy or torch."""

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import grimp

from lakewatch.local.functions import install_local
from lakewatch.serving.lambda_package import HANDLER_MODULES, build


def test_package_is_deterministic_and_complete():
    a, b = build(), build()
    assert a.body == b.body and a.sha256 == b.sha256
    names = zipfile.ZipFile(io.BytesIO(a.body)).namelist()
    assert names == sorted(names) and "app.py" in names
    for needed in (
        "lakewatch/scoring/process.py",
        "lakewatch/extract/views.py",
        "lakewatch/extract/sql/pairs.sql",
        "lakewatch/extract/sql/views/egress_peer.sql",
    ):
        assert needed in names, needed
    assert not any("__pycache__" in n or n.startswith("tests/") for n in names)


def test_the_function_holds_exactly_the_modules_the_handler_imports():
    """The allowlist is closed under the handler's imports (nothing it needs is left out)
    and holds nothing more (no training, demo, CLI or synthetic lake in the function)."""
    graph = grimp.build_graph("lakewatch")
    wanted, todo = set(), ["lakewatch.scoring.process", "lakewatch.scoring.errors"]
    while todo:
        module = todo.pop()
        if module not in wanted:
            wanted.add(module)
            todo.extend(graph.find_modules_directly_imported_by(module))
    assert {m.removeprefix("lakewatch.") for m in wanted} - {"lakewatch"} == set(HANDLER_MODULES)
    names = zipfile.ZipFile(io.BytesIO(build().body)).namelist()
    for absent in ("lakewatch/cli/", "lakewatch/demo/", "lakewatch/training/", "synthetic"):
        assert not any(absent in n for n in names), absent


def _run_installed(tmp_path, code: str) -> str:
    """Run ``code`` in the unpacked zip's folder with only its files on the path."""
    app_dir = install_local(build(), tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=app_dir,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(app_dir), "PATH": "/usr/bin", "LAKEWATCH_LOCAL": "1"},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().replace(str(app_dir), "APP")


def test_the_installed_function_imports_from_its_own_files(tmp_path):
    """The handler starts from the zip's files alone (the repository's package is not on
    the path): what the allowlist left out is not needed."""
    printed = _run_installed(tmp_path, "import app, lakewatch; print(lakewatch.__file__)")
    assert printed == "APP/lakewatch/__init__.py"


def test_installed_package_finds_its_own_sql(tmp_path):
    printed = _run_installed(tmp_path, "import lakewatch.extract.views as v; print(v.sql_dir())")
    assert printed == "APP/lakewatch/extract/sql"


def test_the_scorer_imports_neither_scipy_nor_torch():
    """The function's layer holds the handler's requirements only: reading a detector must not
    pull in the training stack."""
    code = (
        "import sys, app; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'torch', 'sklearn'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2] / "include" / "lambda" / "ipcheck",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "[]"
