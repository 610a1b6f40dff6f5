"""demo.report: the demo's closing lines keep the exact form checked from outside: one line per
kind, ``KIND: precision P%, recall R% (...)``, then all kinds, then ``incidents: precision P%
(a of b), recall R% (c of d)``."""

import re

from lakewatch.demo.evaluate import IncidentCard, Scorecard
from lakewatch.demo.report import closing_lines

KIND = re.compile(r"^([a-z0-9_]+): precision (\d+)%, recall (\d+)% \((.+)\)$")
INCIDENTS = re.compile(
    r"^incidents: precision (\d+)% \((\d+) of (\d+)\), recall (\d+)% \((\d+) of (\d+)\)$"
)


def test_closing_lines_keep_their_form():
    card = Scorecard(
        kinds={
            "scan": {"labelled": 40, "flagged": 35, "recall": 0.875, "precision": 0.8},
            "c2_beacon": {"labelled": 3, "flagged": 3, "recall": 1.0, "precision": 1.0},
        },
        flagged=50,
        true_positives=41,
    )
    incidents = IncidentCard(incidents=14, true_incidents=14, events=15, found_events=14)
    *kinds, every, last = closing_lines(card, incidents)
    assert [KIND.match(line).groups()[:3] for line in kinds] == [
        ("scan", "80", "88"),
        ("c2_beacon", "100", "100"),
    ]
    assert kinds[0].endswith("(35 of 40 injected pairs)")
    assert every == "all kinds: precision 82% (41 of 50 flagged pairs are injected anomalies)"
    assert INCIDENTS.match(last).groups() == ("100", "14", "14", "93", "14", "15")


def test_nothing_flagged_reads_as_zero_not_an_error():
    lines = closing_lines(Scorecard(), IncidentCard())
    assert lines == [
        "all kinds: precision 0% (0 of 0 flagged pairs are injected anomalies)",
        "incidents: precision 0% (0 of 0), recall 0% (0 of 0)",
    ]


def test_rcf_lines_come_after_the_kinds_before_all_kinds():
    from lakewatch.demo.evaluate import RcfCard

    rcf = RcfCard(
        findings=3,
        right=2,
        by_kind={"rcf_volume_spike": {"events": 2, "found": 2, "findings": 2}},
    )
    lines = closing_lines(Scorecard(), IncidentCard(), rcf=rcf)
    assert lines[:2] == [
        "rcf_volume_spike: precision 67%, recall 100% (2 of 2 injected)",
        "rcf: precision 67%, recall 100% (2 of 2 injected)",
    ]
    assert all(KIND.match(line) for line in lines[:2])
    assert lines[2].startswith("all kinds:") and INCIDENTS.match(lines[3])
