"""The backtest's ``report.html``: the threshold's evidence, findings per day and kind, what
the truth file says of them, the highest-priority findings and what was skipped.

Pictures are PNG files beside the page, so the folder can be copied or attached as it is.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from lakewatch.pages import html_table, png_bytes

if TYPE_CHECKING:
    from lakewatch.backtest.run import Outcome

THRESHOLD_PNG = "threshold.png"
FINDINGS_PNG = "findings_by_day.png"


def findings_chart(by_day: dict[str, dict[str, int]]) -> bytes:
    """Findings per day, stacked by kind."""
    days = sorted(by_day)
    kinds = sorted({k for counts in by_day.values() for k in counts})
    fig, ax = plt.subplots(figsize=(8, 3.6))
    bottom = [0] * len(days)
    for kind in kinds:
        values = [by_day[d].get(kind, 0) for d in days]
        ax.bar(days, values, bottom=bottom, label=kind)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("distinct findings")
    ax.set_title("lakewatch backtest: findings per day and kind")
    if kinds:
        ax.legend(fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return png_bytes(fig)


def _truth_section(truth: dict[str, Any] | None) -> str:
    if not truth:
        return "<p>No truth file given (<code>--truth</code>): nothing to score against.</p>"
    rows = [
        [kind, f"{r['share']:.0%}", f"{r['hit']} of {r['of']}"]
        for kind, r in truth["recall_by_kind"].items()
    ]
    for name in ("findings_precision", "incidents_precision", "incidents_recall"):
        r = truth[name]
        rows.append([name.replace("_", " "), f"{r['share']:.0%}", f"{r['hit']} of {r['of']}"])
    return html_table(["measure", "value", "count"], rows)


def _top_section(top: list[dict[str, Any]]) -> str:
    rows = [
        [
            r["severity"],
            r["kind"],
            r["title"],
            ", ".join(r["corroborated_by"]) or "-",
            "" if r["score"] is None else f"{r['score']:.3f}",
        ]
        for r in top
    ]
    return html_table(["severity", "kind", "finding", "Security Hub", "score"], rows)


def page(outcome: Outcome, has_threshold_png: bool) -> str:
    threshold = outcome.threshold
    model = outcome.model
    facts = [
        ["lake", outcome.lake],
        ["training days", f"{outcome.train_days[0]} .. {outcome.train_days[-1]}"],
        ["score days", f"{outcome.score_days[0]} .. {outcome.score_days[-1]}"],
        ["records", ", ".join(f"{k} {v:,}" for k, v in outcome.rows.items())],
        ["pairs", ", ".join(f"{k} {v:,}" for k, v in outcome.pairs.items())],
        ["model", f"{model.get('model_id')} (validation AUC {model.get('validation_auc')})"],
        [
            "threshold",
            f"{threshold.get('threshold'):.4f} ({threshold.get('score')}) for a "
            f"{threshold.get('target_fpr'):.3%} false-positive rate",
        ],
        [
            "threshold gate",
            "REFUSED: " + "; ".join(threshold["refused"]) if threshold.get("refused") else "passed",
        ],
        ["findings", ", ".join(f"{k} {v}" for k, v in outcome.findings.items()) or "none"],
        ["elapsed", ", ".join(f"{k} {v:.1f}s" for k, v in outcome.elapsed_s.items())],
    ]
    skipped = [[k, v] for k, v in sorted(outcome.skipped.items())[:200]]
    threshold_img = (
        f'<img src="{THRESHOLD_PNG}" alt="threshold evidence">' if has_threshold_png else ""
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>lakewatch backtest</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;
text-align:left;vertical-align:top}}img{{max-width:100%}}</style></head><body>
<h1>lakewatch backtest</h1>
{html_table(["", ""], facts)}
<h2>Threshold evidence</h2>{threshold_img}
<h2>Findings per day and kind</h2><img src="{FINDINGS_PNG}" alt="findings per day and kind">
<h2>Against the truth file</h2>{_truth_section(outcome.truth)}
<h2>Highest priority findings</h2>
<p>Ranked as on the review page: severity, raised by Security Hub findings in the lake that
name the same address or instance.</p>{_top_section(outcome.top)}
<h2>Skipped ({len(outcome.skipped)})</h2>{html_table(["object", "why"], skipped)}
</body></html>
"""


def render(outcome: Outcome, threshold_png: bytes | None) -> dict[str, bytes]:
    """Every file of the report (name -> bytes), rendered before any is put in place."""
    out = {FINDINGS_PNG: findings_chart(outcome.findings_by_day)}
    if threshold_png:
        out[THRESHOLD_PNG] = threshold_png
    out["report.html"] = page(outcome, bool(threshold_png)).encode()
    return out


def replace_file(path: Path, body: bytes) -> None:
    """Write beside, then rename: a half-written output is never published."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(body)
    os.replace(tmp, path)


def replace_copy(path: Path, source: Path) -> None:
    """``replace_file`` of a file's contents, copied without reading it into memory."""
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, path)
