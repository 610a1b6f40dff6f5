"""The load test's ``summary.json`` and ``report.html``, with the backlog over time as a PNG
beside the page (``backlog.png``), so the folder can be copied or attached as it is."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from lakewatch.pages import html_table, png_bytes

if TYPE_CHECKING:
    from lakewatch.loadtest.run import Outcome

BACKLOG_PNG = "backlog.png"


def backlog_chart(outcome: Outcome) -> bytes:
    """The subscriber queue's backlog (waiting and in flight) and the DLQ's depth over time,
    with the notifications sent and the objects scored so far on a second axis."""
    s = outcome.samples
    t = [x.t for x in s]
    fig, ax = plt.subplots(figsize=(8, 4.4))
    ax.stackplot(
        t,
        [x.visible for x in s],
        [x.in_flight for x in s],
        labels=["waiting (ApproximateNumberOfMessages)", "in flight (...NotVisible)"],
        alpha=0.7,
    )
    ax.plot(t, [x.dlq for x in s], color="tab:red", label="DLQ")
    ax.set_xlabel("seconds since the first notification")
    ax.set_ylabel("messages")
    ax.set_title(
        f"lakewatch loadtest: {outcome.rate:g} notifications/s offered, "
        f"{outcome.objects_per_s:.2f} objects/s scored"
    )
    twin = ax.twinx()
    twin.plot(t, [x.sent for x in s], color="gray", linestyle="--", label="sent")
    twin.plot(t, [x.scored for x in s], color="tab:green", linestyle=":", label="scored")
    twin.set_ylabel("notifications (cumulative)")
    lines, labels = ax.get_legend_handles_labels()
    more, more_labels = twin.get_legend_handles_labels()
    ax.legend(
        lines + more,
        labels + more_labels,
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=3,
    )
    fig.tight_layout()
    return png_bytes(fig)


def page(outcome: Outcome) -> str:
    kinds = sorted({n.kind for n in outcome.notifications})
    by_kind = [
        [
            kind,
            sum(1 for n in outcome.sent if n.kind == kind),
            *(
                sum(1 for n in outcome.sent if n.kind == kind and n.outcome == o)
                for o in ("scored", "dead-lettered", "skipped", "")
            ),
        ]
        for kind in kinds
    ]
    dead = [[n.index, n.kind, n.key or "(none)", n.reason] for n in outcome.of("dead-lettered")]
    odd = [
        [n.index, n.kind, n.key or "(none)", n.outcome or "unaccounted", n.reason]
        for n in outcome.unaccounted + outcome.unexpected
    ]
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>lakewatch loadtest</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;font-size:90%}}
pre{{background:#f4f4f4;padding:.5em}}</style></head><body>
<h1>lakewatch loadtest</h1>
<pre>{html.escape(chr(10).join(outcome.lines()))}</pre>
<h2>Backlog over time</h2>
<p>The subscriber queue sampled every fraction of a second while the notifications were sent
and until it drained.</p>
<img src="{BACKLOG_PNG}" alt="queue backlog over time">
<h2>Every notification</h2>
{html_table(["kind", "sent", "scored", "dead-lettered", "skipped", "unaccounted"], by_kind)}
<h2>Dead letters and their reasons</h2>
{html_table(["#", "kind", "key", "reason (lakewatch-error)"], dead) if dead else "<p>None.</p>"}
<h2>Unaccounted or unexpected</h2>
{html_table(["#", "kind", "key", "outcome", "reason"], odd) if odd else "<p>None.</p>"}
</body></html>
"""


def write_report(outcome: Outcome, out: Path) -> Path:
    """``summary.json``, ``backlog.png`` and ``report.html`` under ``out``; returns the page."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(outcome.summary(), indent=2) + "\n")
    (out / BACKLOG_PNG).write_bytes(backlog_chart(outcome))
    report = out / "report.html"
    report.write_text(page(outcome))
    return report
