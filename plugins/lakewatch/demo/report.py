"""The demo's report: what ran, what it produced, and how well it found the injected anomalies."""

from __future__ import annotations

import html
import io
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from lakewatch.aws.clients import ClientFactory
from lakewatch.demo.evaluate import (
    HOW_MEASURED,
    IncidentCard,
    RcfCard,
    Scorecard,
    SigninCard,
    network_only,
    precision_at,
    score,
    score_incidents,
    score_rcf,
    score_signins,
    true_uids,
)
from lakewatch.extract.export import PairSet, day_prefix, read_manifest
from lakewatch.extract.views import configured_views
from lakewatch.lake.sink import S3Store
from lakewatch.lake.write import read_labels
from lakewatch.model.registry import Registry
from lakewatch.names import threshold_index_key, threshold_night_prefix
from lakewatch.pages import html_table
from lakewatch.review.desk import Desk
from lakewatch.review.rows import read_day
from lakewatch.settings import Settings

DAGS = (
    "lakewatch_extract",
    "lakewatch_train",
    "lakewatch_recalibrate",
    "lakewatch_rcf_train",
    "lakewatch_rcf_recalibrate",
    "lakewatch_scorer_deploy",
    "lakewatch_scorer_check",
)


def _chart(card: Scorecard, path: Path) -> None:
    kinds = list(card.kinds)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    x = range(len(kinds))
    ax.bar(
        [i - 0.2 for i in x],
        [card.kinds[k]["labelled"] for k in kinds],
        0.4,
        label="injected (distinct pairs)",
        color="tab:gray",
    )
    ax.bar(
        [i + 0.2 for i in x],
        [card.kinds[k]["flagged"] for k in kinds],
        0.4,
        label="found by the scorer",
        color="tab:red",
    )
    ax.set_xticks(list(x), kinds, rotation=15)
    ax.set(
        title=f"Findings per anomaly kind (precision, all kinds: {card.precision:.0%} "
        f"of {card.flagged} flagged pairs)",
        ylabel="pairs",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(
    settings: Settings,
    clients: ClientFactory,
    api: Any,
    out_dir: Path,
    days: list[str],
    live_day: str,
) -> tuple[Path, list[str], list[str]]:
    """The report page under ``out_dir``: (its path, a summary line per section, the
    closing lines)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = S3Store(clients("s3"), settings.results_bucket_name)
    lake = S3Store(clients("s3"), settings.lake_bucket_name)
    sections, lines = [], []
    for part in (
        _runs(api),
        _extracts(settings, results, days),
        _model(settings, results),
        _threshold(settings, results, out_dir),
    ):
        if part is not None:
            sections.append(part[0])
            lines.append(part[1])

    day = date.fromisoformat(live_day)
    day_findings = read_day(results, settings.findings_prefix, day)
    day_labels = read_labels(lake, settings.ground_truth_prefix, day=live_day.replace("-", ""))
    net_findings, net_labels = network_only(day_findings, day_labels)
    incidents = score_incidents(net_findings, net_labels)
    card = score(net_findings, net_labels)
    signins = score_signins(day_findings, day_labels)
    rcf = score_rcf(net_findings, net_labels)
    _chart(card, out_dir / "findings.png")
    sections.append(_findings(live_day, card, incidents, signins, rcf))
    for section, line in (
        _ranking(settings, results, lake, day, day_labels),
        _dead_letters(settings, clients),
    ):
        sections.append(section)
        lines.append(line)
    return _page(out_dir, sections), lines, closing_lines(card, incidents, signins, rcf)


def _runs(api: Any) -> tuple[str, str]:
    """Every run of the demo's DAGs, as the Airflow API lists them."""
    run_rows = []
    for dag_id in DAGS:
        for r in api.runs(dag_id):
            run_rows.append(
                [
                    dag_id,
                    r["dag_run_id"],
                    r["run_type"],
                    r["state"],
                    (r.get("start_date") or "")[:19],
                    (r.get("end_date") or "")[:19],
                ]
            )
    section = "<h2>DAG runs</h2>" + html_table(
        ["DAG", "run", "type", "state", "start", "end"], run_rows
    )
    failed = [r for r in run_rows if r[3] == "failed"]
    return section, f"DAG runs: {len(run_rows)} ({len(failed)} failed)"


def _extracts(settings: Settings, results: S3Store, days: list[str]) -> tuple[str, str]:
    """The pairs each day's extract wrote, from its manifest (days without one left out)."""
    extract_rows, total = [], 0
    for day in days:
        m = read_manifest(
            results,
            day_prefix(
                settings.extracts_prefix,
                settings.source_version,
                PairSet(configured_views(settings.pair_views)),
                date.fromisoformat(day),
            ),
        )
        if m:
            total += m.rows
            extract_rows.append(
                [
                    day,
                    f"{m.rows:,}",
                    f"{m.entities:,}",
                    "; ".join(f"{n:,} {r}" for r, n in m.dropped.items()),
                ]
            )
    section = "<h2>Pairs extracted</h2>" + html_table(
        ["day", "pairs", "entities", "dropped (why)"], extract_rows
    )
    return section, f"pairs extracted: {total:,} over {len(extract_rows)} days"


def _model(settings: Settings, results: S3Store) -> tuple[str, str] | None:
    """The endpoint's current model and its metrics; None before one is deployed."""
    registry = Registry(results, settings.models_prefix)
    endpoint = registry.endpoint(settings.endpoint_name)
    model = registry.get(endpoint.current) if endpoint.current else None
    if not model:
        return None
    metrics = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in model.metrics.items()}
    section = (
        f"<h2>Model</h2><p>{html.escape(model.model_id)} trained on "
        f"{', '.join(model.days)}; artifact {html.escape(model.artifact_uri)}</p>"
        f"<pre>{html.escape(json.dumps(metrics, indent=2))}</pre>"
    )
    line = (
        f"model {model.model_id}: validation AUC "
        f"{model.metrics.get('validation:discriminator_auc', float('nan')):.3f}"
    )
    return section, line


def _threshold(settings: Settings, results: S3Store, out_dir: Path) -> tuple[str, str] | None:
    """The latest night's threshold record, its chart copied beside the page; None before
    the first recalibration."""
    history = (
        json.loads(results.get(threshold_index_key(settings.thresholds_prefix)))
        if list(results.list(threshold_index_key(settings.thresholds_prefix)))
        else []
    )
    if not history:
        return None
    latest = history[-1]
    night = threshold_night_prefix(settings.thresholds_prefix, latest["day"])
    shutil.copyfileobj(
        io.BytesIO(results.get(f"{night}threshold.png")), (out_dir / "threshold.png").open("wb")
    )
    record = json.loads(results.get(f"{night}record.json"))
    chosen = record["evaluation"]["chosen"]
    section = (
        f"<h2>Threshold</h2><p>{record['threshold']:.4f} for {record['model_id']} on "
        f"{record['day']}: false-positive rate {chosen['fpr']:.3%} (target "
        f"{record['target_fpr']:.3%}), recall of synthetic abnormal pairs "
        f"{chosen['recall']:.1%}, AUC {record['evaluation']['auc']:.3f}; published: "
        f"{record['published']}</p><img src='threshold.png'>"
        f"<pre>{html.escape(json.dumps(record['evaluation']['alternatives'], indent=2))}"
        "</pre>"
    )
    line = (
        f"threshold {record['threshold']:.4f} (FPR {chosen['fpr']:.3%}, AUC "
        f"{record['evaluation']['auc']:.3f}, published {record['published']})"
    )
    return section, line


def _findings(
    live_day: str,
    card: Scorecard,
    incidents: IncidentCard,
    signins: SigninCard | None = None,
    rcf: RcfCard | None = None,
) -> str:
    """The live day's findings against the injected anomalies: pairs per kind, then
    incidents (the chart ``_chart`` drew beside the page), then sign-ins and the Random Cut
    Forest's instance-hours."""
    rcf_part = (
        f"<h3>Random Cut Forest</h3><p>{rcf.findings} instance-hours flagged, {rcf.right} of "
        "them holding injected rows.</p>"
        + html_table(
            ["kind", "injected events", "found", "flagged instance-hours"],
            [[k, v["events"], v["found"], v["findings"]] for k, v in sorted(rcf.by_kind.items())],
        )
        if rcf is not None and (rcf.by_kind or rcf.findings)
        else ""
    )
    signin_part = (
        f"<h3>Sign-ins</h3><p>{signins.flagged} sign-in pairs flagged, "
        f"{signins.true_positives} of them injected; {signins.true_positives} of "
        f"{signins.labelled} injected sign-ins found.</p>"
        + html_table(
            ["kind", "injected pairs", "found"],
            [[k, v["labelled"], v["flagged"]] for k, v in signins.by_kind.items()],
        )
        if signins is not None and (signins.labelled or signins.flagged)
        else ""
    )
    return (
        f"<h2>Real-time findings for {live_day}</h2><p>{card.flagged} pairs flagged, "
        f"{card.true_positives} of them injected anomalies; {card.unknown_entities} "
        "unknown-entity findings.</p><img src='findings.png'>"
        + html_table(
            ["kind", "injected pairs", "found", "recall", "precision"],
            [
                [k, v["labelled"], v["flagged"], f"{v['recall']:.0%}", f"{v['precision']:.0%}"]
                for k, v in card.kinds.items()
            ],
        )
        + f"<p>{html.escape(HOW_MEASURED)}</p>"
        + f"<h3>Incidents</h3><p>{incidents.incidents} incidents (pairs grouped by instance "
        f"and hour, or by one address across instances), {incidents.true_incidents} holding "
        f"an injected anomaly; {incidents.found_events} of {incidents.events} injected events "
        "found.</p>"
        + html_table(
            ["kind", "injected events", "in an incident"],
            [[k, v["events"], v["found"]] for k, v in sorted(incidents.by_kind.items())],
        )
        + signin_part
        + rcf_part
    )


def _dead_letters(settings: Settings, clients: ClientFactory) -> tuple[str, str]:
    """Up to ten messages on the dead-letter queue, each with the error the scorer gave it
    (peeked at: visible again at once)."""
    sqs = clients("sqs")
    dlq = sqs.get_queue_url(QueueName=settings.dlq_name)["QueueUrl"]
    dead = sqs.receive_message(
        QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
    ).get("Messages", [])
    reasons = [
        m.get("MessageAttributes", {})
        .get("lakewatch-error", {})
        .get("StringValue", "redriven after maxReceiveCount")
        for m in dead
    ]
    section = "<h2>Dead-letter queue</h2>" + (
        html_table(["reason"], [[r] for r in reasons]) if reasons else "<p>empty</p>"
    )
    return section, f"dead-letter queue: {len(reasons)} message(s)"


def _page(out_dir: Path, sections: list[str]) -> Path:
    """``index.html``: the sections under one heading, with the page's style."""
    page = out_dir / "index.html"
    page.write_text(
        "<!doctype html><meta charset='utf-8'><title>lakewatch demo</title><style>body{font:"
        "14px sans-serif;margin:2em;max-width:1300px}table{border-collapse:collapse}td,th{"
        "border:1px solid #ccc;padding:3px 8px}img{max-width:100%}</style>"
        f"<h1>lakewatch demo report</h1>{''.join(sections)}"
    )
    return page


def _ranking(
    settings: Settings, results: S3Store, lake: S3Store, day: date, labels: list[dict[str, Any]]
) -> tuple[str, str]:
    """The day's findings as on-call sees them (the review desk's ranking), with and without
    the lake's Security Hub findings: how many of the first ten are right."""
    plain = Desk(results, settings.findings_prefix, settings.feedback_prefix)
    found = plain.findings(day)
    right = true_uids(found, labels)
    enriched = Desk(
        results,
        settings.findings_prefix,
        settings.feedback_prefix,
        lake=lake,
        source_version=settings.source_version,
    )
    evidence = enriched.evidence(day)

    def order(desk: Desk) -> list[Any]:
        return [r for r, _ in desk.reviewed(day, found) if r.kind != "unknown_entity"]

    with_evidence, alone = order(enriched), order(plain)
    p_with = precision_at([r.uid for r in with_evidence], right)
    p_alone = precision_at([r.uid for r in alone], right)
    # R-precision: at the rank where a perfect order would have shown every right finding
    depth = len(right)
    r_with = precision_at([r.uid for r in with_evidence], right, depth)
    r_alone = precision_at([r.uid for r in alone], right, depth)
    corroborated = sum(1 for r in with_evidence if r.corroborated_by)
    line = (
        f"ranking: precision at the top 10 {p_with:.0%} with Security Hub evidence "
        f"({p_alone:.0%} by severity alone), at the top {depth} {r_with:.0%} ({r_alone:.0%}); "
        f"{len(evidence)} Security Hub findings corroborate {corroborated} of "
        f"{len(with_evidence)} lakewatch findings"
    )
    rows = [
        [
            n + 1,
            r.severity,
            r.kind,
            ", ".join(r.instances)[:40],
            ", ".join(r.addresses)[:40],
            "; ".join(r.corroborated_by) or "-",
            "yes" if r.uid in right else "no",
        ]
        for n, r in enumerate(with_evidence[:10])
    ]
    section = (
        "<h2>Ranking with other evidence</h2><p>The review page's order: severity, raised by "
        "Security Hub (GuardDuty) findings in the lake on the same address (two levels) or "
        "instance (one) within six hours, and by the reputation list when one is configured. "
        f"Precision at the top 10: {p_with:.0%}, against {p_alone:.0%} by severity alone; at "
        f"the top {depth} (as many as are right): {r_with:.0%}, against {r_alone:.0%}.</p>"
        + html_table(
            ["rank", "severity", "kind", "instance", "address", "Security Hub", "injected"], rows
        )
    )
    return section, line


def closing_lines(
    card: Scorecard,
    incidents: IncidentCard,
    signins: SigninCard | None = None,
    rcf: RcfCard | None = None,
) -> list[str]:
    """The demo's last lines, one per network kind, one for sign-ins when the day has any,
    one per Random Cut Forest kind and ``rcf:`` when it has those, then all (network) kinds
    and incidents: an interface checked from outside (``KIND: precision P%, recall R%
    (...)``, ``signin: precision P%, recall R% (m of n injected sign-ins)``, ``rcf: precision
    P%, recall R% (m of n injected)``, ``incidents: precision P% (a of b), recall R% (c of
    d)``), so its form never changes."""
    lines = [
        f"{kind}: precision {v['precision']:.0%}, recall {v['recall']:.0%} "
        f"({v['flagged']} of {v['labelled']} injected pairs)"
        for kind, v in card.kinds.items()
    ]
    if signins is not None and (signins.labelled or signins.flagged):
        lines.append(signins.line())
    if rcf is not None:
        lines.extend(rcf.lines())
    lines.append(
        f"all kinds: precision {card.precision:.0%} ({card.true_positives} of "
        f"{card.flagged} flagged pairs are injected anomalies)"
    )
    lines.append(
        f"incidents: precision {incidents.precision:.0%} ({incidents.true_incidents} of "
        f"{incidents.incidents}), recall {incidents.recall:.0%} ({incidents.found_events} of "
        f"{incidents.events})"
    )
    return lines
