"""Honest dependencies: every third-party module the package and the DAGs import belongs to a
distribution ``pyproject.toml`` declares (directly, not through someone else's dependency)."""

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO


def _imported_top_levels() -> set[str]:
    names = set()
    for path in [*(REPO / "plugins").rglob("*.py"), *(REPO / "dags").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"lakewatch", "lakewatch_review", "__future__"}


def test_every_import_is_declared():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    owners = packages_distributions()
    undeclared = {
        module: sorted(owners.get(module, ["?"]))
        for module in _imported_top_levels()
        if not declared & {canonicalize_name(d) for d in owners.get(module, [])}
    }
    assert undeclared == {}, f"imported but not declared in pyproject.toml: {undeclared}"
