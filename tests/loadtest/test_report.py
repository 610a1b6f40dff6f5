"""The load test's report: summary.json, the backlog PNG and the page naming every dead letter."""

import json

from lakewatch.loadtest.report import backlog_chart, write_report
from lakewatch.loadtest.run import Notification, Outcome, Sample


def _outcome():
    notes = [
        Notification(
            0, "object", "{}", key="k0", sent_at=10.0, outcome="scored", done_at=11.0, rows=7
        ),
        Notification(
            1,
            "malformed",
            "{}",
            sent_at=10.5,
            outcome="dead-lettered",
            reason="not a Security Lake notification <b>",
        ),
        Notification(2, "object", "{}", key="k2", sent_at=11.0),  # unaccounted
    ]
    out = Outcome(rate=2, count=3, max_seconds=5, notifications=notes, started_at=10.0)
    out.samples = [Sample(0.1 * i, i % 3, 1, i // 5, i, i // 2) for i in range(12)]
    return out


def test_the_report_holds_the_figures_the_chart_and_every_dead_letter(tmp_path):
    out = _outcome()
    page = write_report(out, tmp_path / "r")
    assert page == tmp_path / "r" / "report.html"
    html = page.read_text()
    assert '<img src="backlog.png"' in html
    assert "not a Security Lake notification &lt;b&gt;" in html  # escaped
    assert "unaccounted" in html and "k2" in html
    assert "notifications: 3 sent, 1 scored, 1 dead-lettered" in html
    png = (tmp_path / "r" / "backlog.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["peak_backlog"] == 3 and len(summary["samples"]) == 12
    assert summary["reasons"] == {"not a notification": 1} and summary["unaccounted"] == 1


def test_the_chart_draws_an_empty_run():
    out = _outcome()
    out.samples = []
    assert backlog_chart(out)[:4] == b"\x89PNG"
