"""orchestration.assets: the Assets' names are fixed (DAG links survive a renamed bucket) and
their URIs follow the settings of the environment the DAGs are parsed in."""

import json
import subprocess
import sys

from tests.conftest import REPO

_PRINT = (
    "import json; from lakewatch.orchestration import assets as a; "
    "print(json.dumps({x.name: x.uri for x in (a.TRAINING_PAIRS, a.DEPLOYED_MODEL, a.THRESHOLD)}))"
)


def _assets(env: dict[str, str]) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-c", _PRINT],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "HOME": str(REPO), **env},
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)


def test_names_are_fixed_and_uris_follow_the_settings():
    default = _assets({})
    renamed = _assets({"LAKEWATCH_RESULTS_BUCKET": "acme-results", "LAKEWATCH_ENDPOINT_NAME": "ep"})
    assert (
        set(default)
        == set(renamed)
        == {
            "lakewatch_training_pairs",
            "lakewatch_deployed_model",
            "lakewatch_threshold",
        }
    )
    assert renamed == {
        "lakewatch_training_pairs": "s3://acme-results/extracts",
        "lakewatch_deployed_model": "s3://acme-results/models/endpoints/ep.json",
        "lakewatch_threshold": "s3://acme-results/thresholds",
    }
    assert default["lakewatch_training_pairs"].startswith("s3://lakewatch-results-")
