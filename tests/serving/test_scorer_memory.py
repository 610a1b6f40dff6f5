"""The function's configured memory against what ``make bench`` measured the scorer needs."""

import json
import re

from lakewatch.serving import lambda_deploy as deploy
from tests.conftest import REPO

MEASURED = REPO / "bench" / "results" / "scorer.json"


def _template_memory() -> int:
    text = (REPO / "include" / "lambda" / "ipcheck" / "template.yaml").read_text()
    [value] = re.findall(r"^\s+MemorySize:\s*(\d+)\s*$", text, re.M)
    return int(value)


def test_the_function_has_the_memory_a_1m_row_object_needs():
    measured = json.loads(MEASURED.read_text())
    need = measured["memory_mb_for_1m_rows"]  # peak RSS of bench scorer + 25%, 64 MB steps
    assert need >= measured["peak_rss_mb"]["1000000"] * measured["headroom"]
    default = deploy.deploy_lambda.__kwdefaults__["memory_mb"]
    assert _template_memory() >= need, "the SAM template's MemorySize is below the need"
    assert default >= need, "lakewatch_scorer_deploy's memory is below the need"
