"""cli: the console script's entry (``run``) around ``main``."""

import gc

import pytest

from lakewatch.cli import run


def test_run_exits_with_mains_code_and_freezes_what_it_made():
    """The exit skips the interpreter's last collections over the command's objects."""
    before = gc.get_freeze_count()
    try:
        with pytest.raises(SystemExit) as ended:
            run(["sizing", "--accounts", "2", "--regions", "1", "--flow-tb-per-day", "0.1"])
        assert ended.value.code == 0
        assert gc.get_freeze_count() > before
        with pytest.raises(SystemExit) as failed:
            run(["sizing", "--accounts", "-1", "--regions", "1", "--flow-tb-per-day", "1"])
        assert failed.value.code != 0
    finally:
        gc.unfreeze()


def test_the_console_script_is_run():
    import tomllib

    from tests.conftest import REPO

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["lakewatch"] == "lakewatch.cli:run"
