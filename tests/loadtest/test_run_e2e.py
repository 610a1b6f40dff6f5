"""The load test end to end on the local backend: its own emulator, model server and scorer
runtime on free loopback ports; every notification accounted for and the report written."""

import json
import re

import pytest

from lakewatch.loadtest.report import write_report
from lakewatch.loadtest.run import LoadTest
from lakewatch.loadtest.stack import Stack, StackOptions
from lakewatch.local.emulator import free_port
from lakewatch.local.processes import ProcessRegistry
from lakewatch.settings import Settings

pytestmark = pytest.mark.e2e

EXPECTED = {
    "missing": r"^gave up after 2 receives: s3://\S+/loadtest-missing-\d+\.gz\.parquet does not",
    "corrupt": r"loadtest-corrupt-\d+\.gz\.parquet: cannot read as Parquet",
    "foreign": r"bucket lakewatch-loadtest-not-the-lake is not the Security Lake bucket",
    "malformed": r"^not a Security Lake notification",
}


def test_every_notification_is_scored_or_dead_lettered_with_its_reason(tmp_path):
    ports = {free_port() for _ in range(4)} - {5055, 8080, 15432, 16379, 8280}
    emulator_port, model_port = sorted(ports)[:2]
    settings = Settings(emulator_port=emulator_port, model_server_port=model_port)
    options = StackOptions(rows_per_day=6_000, epochs=1, visibility_timeout_s=2)
    lines: list[str] = []
    with Stack(settings, tmp_path, options, log=lines.append) as stack:
        assert stack.settings.state_dir == tmp_path.resolve() / "state"  # never the user's
        run = LoadTest(stack, rate=8, count=24, max_seconds=20, bad=4, drain_s=30, sample_s=0.2)
        outcome = run.run()
        source_rows = {
            o.key.rsplit("/", 1)[1].removesuffix(".gz.parquet"): o.rows for o in stack.objects
        }
        s3 = stack.clients("s3")
        written = {
            f"s3://{stack.settings.results_bucket_name}/{o['Key']}"
            for o in s3.list_objects_v2(
                Bucket=stack.settings.results_bucket_name, Prefix="ext/lakewatch/"
            ).get("Contents", [])
        }
        running = [r.name for r in ProcessRegistry(stack.settings.run_dir).records() if r.alive()]
    assert {"emulator", "router", "scorer"} <= set(running)
    assert not [r for r in ProcessRegistry(stack.settings.run_dir).records() if r.alive()]

    sent = outcome.sent
    assert len(sent) == 24 and not outcome.unaccounted and not outcome.unexpected, outcome.lines()
    scored, dead = outcome.of("scored"), outcome.of("dead-lettered")
    assert len(scored) == 20 and {n.kind for n in scored} == {"object"}
    # the scorer's record is of the very object the notification named: a copy's rows are its
    # source's, and a findings file it names was written
    for n in scored:
        stem = n.key.rsplit("/", 1)[1].removesuffix(".gz.parquet").rsplit("-lt", 1)[0]
        assert n.rows == source_rows[stem] > 0, n
        assert not n.findings or n.findings in written, n.findings
        assert n.done_at > n.sent_at
    assert any(n.findings for n in scored)
    assert sorted(n.kind for n in dead) == sorted(EXPECTED)
    for n in dead:
        assert re.search(EXPECTED[n.kind], n.reason), (n.kind, n.reason)
    assert outcome.reasons() == {
        "object missing, gave up": 1,
        "cannot read as Parquet": 1,
        "bucket not the lake's": 1,
        "not a notification": 1,
    }
    assert outcome.drained and outcome.objects_per_s > 0 and outcome.rows_per_s > 0
    times = [s.t for s in outcome.samples]
    assert len(times) >= 10 and times == sorted(times)
    assert outcome.peak_backlog >= 1 and outcome.samples[-1].backlog == 0
    assert outcome.samples[-1].sent == 24 and outcome.samples[-1].dlq == 4

    page = write_report(outcome, tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["sent"], summary["scored"], summary["dead_lettered"]) == (24, 20, 4)
    assert summary["unaccounted"] == 0 and len(summary["samples"]) == len(outcome.samples)
    assert (tmp_path / "out" / "backlog.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = page.read_text()
    assert 'src="backlog.png"' in html and "cannot read as Parquet" in html
    last = outcome.lines()[-1]
    assert last.startswith("notifications: 24 sent, 20 scored, 4 dead-lettered (reasons: ")
    assert last.endswith(", 0 unaccounted")
