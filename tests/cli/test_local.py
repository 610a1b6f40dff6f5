"""``lakewatch local``: up starts the emulator and provisions, status lists what runs, down
stops it all; each says what it did."""

from lakewatch.cli import main
from lakewatch.local.emulator import free_port


def test_up_status_down(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAKEWATCH_EMULATOR_PORT", str(free_port()))
    monkeypatch.setenv("LAKEWATCH_STATE_DIR", str(tmp_path / "state"))
    try:
        assert main(["local", "status"]) == 0
        assert "no lakewatch processes" in capsys.readouterr().out
        assert main(["local", "up"]) == 0
        up = capsys.readouterr().out
        assert "emulator: http://127.0.0.1:" in up and "queue:" in up and "dead letters:" in up
        assert main(["local", "up"]) == 0  # already up: the same resources
        assert capsys.readouterr().out.splitlines()[1:] == up.splitlines()[1:]
        assert main(["local", "status"]) == 0
        assert "running" in capsys.readouterr().out
    finally:
        assert main(["local", "down"]) == 0
    assert "stopped: " in capsys.readouterr().out
    assert main(["local", "down"]) == 0
    assert "nothing was running" in capsys.readouterr().out
