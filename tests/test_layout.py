"""Tests mirror modules: ``tests/<pkg>/test_<module>.py`` tests ``plugins/lakewatch/<pkg>/
<module>.py`` (or the package ``<module>/``), so a module's tests are found by its path and a
renamed module takes its tests along. ``_e2e`` names the same module's end-to-end tests. Tests
of no one module are listed below with what they test instead."""

from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "plugins" / "lakewatch"
TESTS = REPO / "tests"
SUFFIXES = ("_e2e",)  # the same module, end to end

# folders whose tests are of something else than one module
OTHER_FOLDERS = {
    "dags": "the DAG files: test_<dag>_*.py runs dags/lakewatch_<dag>*.py (see _dag_files)",
    "reliability": "faults, fuzzing and security across the scorer and the model server",
    "deploy": "deploy/lakewatch.yaml, the CloudFormation stack: linted, compared, created in moto",
}
# single test files of no one module
OTHER_FILES = {
    "test_layout.py": "this rule: the repository's layout",
    "test_bench_quick.py": "bench/: the benchmarks' quick mode (quality and data)",
    "test_bench_quick_model.py": "bench/: the benchmarks' quick mode (the models)",
    "test_bench_quick_scoring.py": "bench/: the benchmarks' quick mode (the scoring paths)",
    "test_compose.py": "docker-compose.yaml",
    "test_dependencies.py": "requirements.in, requirements.txt and pyproject.toml agree",
    "backends/test_seam.py": "the backend seam across base.py, local.py and aws.py",
    "scoring/test_handler.py": "the Lambda's handler in include/lambda/ipcheck/",
    "dags/test_integrity.py": "every DAG file: loads, conventions, only wiring",
    "demo/test_demo_e2e.py": "make demo, end to end",
}


def _tested_module(test: Path) -> str:
    """``tests/<pkg>/test_<name>[_e2e].py`` -> ``<pkg>/<name>``."""
    name = test.stem.removeprefix("test_")
    for suffix in SUFFIXES:
        name = name.removesuffix(suffix)
    return str(test.relative_to(TESTS).parent / name).removeprefix("./")


def _dag_files(test: Path) -> list[Path]:
    """The DAG files a ``tests/dags/test_<dag>_*.py`` runs."""
    dag = test.stem.removeprefix("test_").split("_")[0]
    return sorted((REPO / "dags").glob(f"lakewatch_{dag}*.py"))


def _unmirrored() -> list[str]:
    found = []
    for test in sorted(TESTS.rglob("test_*.py")):
        rel = str(test.relative_to(TESTS))
        if rel in OTHER_FILES:
            continue
        folder = rel.split("/")[0]
        if folder == "dags":
            if not _dag_files(test):
                found.append(f"{rel}: no dags/lakewatch_{test.stem[5:].split('_')[0]}*.py")
            continue
        if folder in OTHER_FOLDERS:
            continue
        module = _tested_module(test)
        if not ((PACKAGE / f"{module}.py").is_file() or (PACKAGE / module).is_dir()):
            found.append(f"{rel}: no plugins/lakewatch/{module}.py")
    return found


def test_every_test_file_names_the_module_it_tests():
    assert _unmirrored() == []


def test_the_exceptions_exist_and_say_why():
    for rel, why in OTHER_FILES.items():
        assert (TESTS / rel).is_file(), f"tests/{rel} is listed but gone"
        assert why, rel
    for folder in OTHER_FOLDERS:
        assert (TESTS / folder).is_dir(), f"tests/{folder}/ is listed but gone"


def test_the_rule_finds_a_test_of_no_module(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.TESTS", tmp_path)
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "test_plan_e2e.py").write_text("")
    (tmp_path / "training" / "test_nothing.py").write_text("")
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "test_nodag_e2e.py").write_text("")
    assert _unmirrored() == [
        "dags/test_nodag_e2e.py: no dags/lakewatch_nodag*.py",
        "training/test_nothing.py: no plugins/lakewatch/training/nothing.py",
    ]
