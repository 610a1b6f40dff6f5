"""The demo's scripted analyst, and what the feedback changed.

The analyst reviews the live day as on-call would, through the same desk the review page and
``lakewatch findings`` use: the day's pair findings, highest priority first; the first few
that are no injected anomaly (the generator's ground truth stands in for the analyst's
judgement) are labelled false positives, and the next one is suppressed for a week. The
nightly loop then does what it does with labels (the false positives join the training pairs
and the recalibration's normal set), and the next day is scored: ``feedback_lines`` says
whether the labelled and suppressed pairs were flagged again, how many false positives the
day had against the first, and the recall of the injected anomalies on both days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lakewatch.demo.evaluate import flagged_pairs, labelled_pairs, pair_kinds
from lakewatch.extract.views import View
from lakewatch.review.desk import Desk

Pair = tuple[str, str, str]  # (view, entity as the views name it, address)


@dataclass
class Review:
    labelled: list[Pair] = field(default_factory=list)
    suppressed: Pair | None = None
    unreviewed: list[Pair] = field(default_factory=list)  # false positives left alone
    false_positives: int = 0  # the day's distinct flagged pairs that are no injected anomaly


def _pair(row: Any) -> Pair:
    entity = row.instances[0] + ("/in" if row.view == View.INGRESS_PEER else "")
    return (row.view, entity, row.addresses[0])


def review_day(
    desk: Desk, day: date, truth: list[dict[str, Any]], labels: int = 5, who: str = "demo-analyst"
) -> Review:
    injected = set().union(*labelled_pairs(truth).values()) if truth else set()
    review, seen = Review(), set()
    for row, verdict in desk.reviewed(day):
        if row.kind != "anomalous_pair" or len(row.instances) != 1 or verdict:
            continue
        pair = _pair(row)
        if pair in injected or pair in seen:  # a pair flagged in several hours is one
            continue
        seen.add(pair)
        review.false_positives += 1
        if len(review.labelled) < labels:
            desk.label(day, row.uid, "false_positive", "scripted demo analyst: known traffic", who)
            review.labelled.append(pair)
        elif review.suppressed is None:
            view, _, address = pair
            desk.suppress(row.instances[0], address, None, view, 7, "scripted demo analyst", who)
            review.suppressed = pair
        else:
            review.unreviewed.append(pair)
    return review


def feedback_lines(
    review: Review,
    first: list[dict[str, Any]],
    first_truth: list[dict[str, Any]],
    second: list[dict[str, Any]],
    second_truth: list[dict[str, Any]],
) -> list[str]:
    """What the next day looked like after the analyst's labels and suppression."""

    def false_and_recall(findings, truth) -> tuple[int, float, int]:
        """False-positive pairs (no injected pair of any kind), and the recall of the kinds
        IP Insights' pairs are measured on (the Random Cut Forest's left out)."""
        flagged = flagged_pairs(findings)
        injected = set().union(*labelled_pairs(truth).values()) if truth else set()
        measured = labelled_pairs(pair_kinds(truth))
        pairs = set().union(*measured.values()) if measured else set()
        found = len(flagged & pairs)
        return len(flagged - injected), found / len(pairs) if pairs else 0.0, len(pairs)

    fp1, recall1, n1 = false_and_recall(first, first_truth)
    fp2, recall2, n2 = false_and_recall(second, second_truth)
    again = flagged_pairs(second)
    relabelled = sum(1 for pair in review.labelled if pair in again)
    control = sum(1 for pair in review.unreviewed if pair in again)
    lines = [
        f"feedback: the analyst labelled {len(review.labelled)} of the live day's "
        f"{review.false_positives} false-positive pairs and suppressed "
        + ("1" if review.suppressed else "none"),
        f"  flagged again the next day: {relabelled} of the {len(review.labelled)} labelled "
        f"false positives, {control} of the {len(review.unreviewed)} left unlabelled; the "
        "suppressed pair: "
        + (
            ("flagged" if review.suppressed in again else "silenced")
            if review.suppressed
            else "none"
        ),
        f"  false-positive pairs: {fp1} on the live day, {fp2} the next; recall of injected "
        f"pairs: {recall1:.0%} ({n1}) and {recall2:.0%} ({n2})",
    ]
    return lines
