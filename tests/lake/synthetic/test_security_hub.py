"""lake.synthetic.security_hub: GuardDuty findings on some injected events (naming the
event's instance and remote address), unrelated noise every day on the day's instance ids,
valid OCSF 1.1.0 rows."""

from datetime import date

import numpy as np

from lakewatch.lake.layout import Source, parse_key
from lakewatch.lake.synthetic import GenerateOptions, LakeGenerator
from lakewatch.lake.synthetic.options import Label
from lakewatch.lake.synthetic.security_hub import NOISE_PER_DAY, findings_for_day, sh_table
from lakewatch.lake.synthetic.world import World
from lakewatch.lake.validate import validate_table

DAY_MS = 1_793_491_200_000


def _labels(kind: str, events: int) -> list[Label]:
    return [
        Label(
            f"e{k}",
            kind,
            f"i-{k:04d}/in",
            f"198.51.100.{k}",
            "ingress_peer",
            "VPC_FLOW",
            time=DAY_MS + k * 1000,
        )
        for k in range(events)
        for _ in range(3)  # several labelled pairs of one event: one finding at most
    ]


def _instances():
    """The account's instances' ids (on the day: what churn would rename)."""
    world = World(7, 1, 20, "us-east-1")
    return [world.instances[j].uid for j in world.accounts[0].instances]


def test_reported_share_and_what_a_finding_names():
    found = findings_for_day(
        _labels("c2_beacon", 200), _instances(), DAY_MS, np.random.default_rng(0)
    )
    reported = [f for f in found if f.types.startswith("Backdoor")]
    assert 0.6 < len(reported) / 200 < 0.8  # GuardDuty reports about 70% of C2 beacons
    assert len(found) - len(reported) <= NOISE_PER_DAY
    one = reported[0]
    k = int(one.instance.removeprefix("i-"))
    assert one.instance == f"i-{k:04d}" and one.address == f"198.51.100.{k}"  # "/in" dropped
    assert one.time > DAY_MS + k * 1000  # findings lag their activity


def test_noise_every_day_on_real_instances():
    found = findings_for_day([], _instances(), DAY_MS, np.random.default_rng(1))
    assert len(found) == NOISE_PER_DAY
    uids = set(_instances())
    assert all(f.instance is None or f.instance in uids for f in found)
    assert all(DAY_MS <= f.time < DAY_MS + 86_400_000 for f in found)


def test_table_is_valid_ocsf_detection_findings():
    found = findings_for_day(_labels("scan", 5), _instances(), DAY_MS, np.random.default_rng(2))
    table = sh_table(found, "123456789012", "us-east-1")
    assert table.num_rows == len(found)
    assert set(table["class_uid"].to_pylist()) == {2004}
    assert validate_table(table, "1.1.0") == []


def test_generator_writes_one_object_per_account_and_day_in_2_0_only():
    def objects(version, **kw):
        options = GenerateOptions(
            days=2, start=date(2026, 11, 1), rows_per_day=3_000, source_version=version, **kw
        )
        return list(LakeGenerator(options).objects())

    sh = [o for o in objects("2.0") if o.source is Source.SH_FINDINGS]
    assert len(sh) == 2 * 3  # days x accounts
    assert all(parse_key(o.key).source == "SH_FINDINGS" and not o.labels for o in sh)
    assert not [o for o in objects("1.0") if o.source is Source.SH_FINDINGS]
    assert not [o for o in objects("2.0", security_hub=False) if o.source is Source.SH_FINDINGS]
