"""local.owner_files: secrets readable by their owner only, made once."""

import stat

from lakewatch.local.owner_files import secret, write_owner_only


def test_a_file_is_owner_only_even_one_that_was_not(tmp_path):
    path = tmp_path / "deep" / "password"
    write_owner_only(path, "first")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "first"
    path.chmod(0o644)
    write_owner_only(path, "second")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "second"


def test_a_secret_is_made_once_and_read_after(tmp_path):
    made = []

    def make() -> str:
        made.append(1)
        return f"token-{len(made)}\n"

    path = tmp_path / "key"
    assert secret(path, make) == "token-1"
    assert secret(path, make) == "token-1" and len(made) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
