"""model.baseline: the prefix-frequency statistic the model is measured against counts the
entity's own history at /24, /16 and /8, weighted 4/2/1, and knows nothing of other entities."""

import math

import numpy as np
import pytest

from lakewatch.model.baseline import PrefixFrequencyBaseline
from lakewatch.model.encoding import entity_hashes, parse_addresses


def test_score_is_the_weighted_log_counts_of_the_entitys_own_prefixes():
    train_e = ["a", "a", "a", "b"]
    train_ip = ["10.1.2.3", "10.1.2.9", "10.1.7.1", "10.1.2.3"]
    base = PrefixFrequencyBaseline(entity_hashes(train_e), parse_addresses(train_ip))
    test_e = ["a", "a", "a", "b", "c", "a"]
    test_ip = ["10.1.2.200", "10.1.99.1", "10.200.0.1", "10.1.2.3", "10.1.2.3", "203.0.113.1"]
    got = base.score(entity_hashes(test_e), parse_addresses(test_ip))
    log = math.log1p
    expected = [
        4 * log(2) + 2 * log(3) + log(3),  # a's /24 twice, /16 and /8 three times
        2 * log(3) + log(3),
        log(3),
        4 * log(1) + 2 * log(1) + log(1),  # b's own single pair
        0.0,  # an entity never seen
        0.0,
    ]
    assert got == pytest.approx(expected)


def test_ipv6_and_an_empty_history_score_as_never_seen():
    base = PrefixFrequencyBaseline(entity_hashes(["a"]), parse_addresses(["2001:db8::1"]))
    got = base.score(entity_hashes(["a", "a"]), parse_addresses(["2001:db8::1", "10.0.0.1"]))
    assert np.array_equal(got, [0.0, 0.0])
