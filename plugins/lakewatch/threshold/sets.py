"""The normal and synthetic-abnormal pair sets a threshold is chosen on.

Normal: pairs the current model did not train on (the night's extract, or its held-out
validation split when the night is inside the model's training window), known entities only,
each distinct pair once: the scorer flags distinct pairs, so that is the unit a false-positive
rate counts (an extract row per flow would let one chatty new pair fill the 0.1% tail).
Abnormal, each normal entity paired with:

- ``random_public``: a uniformly random public (globally routable) IPv4 address;
- ``unused_subnet``: an address in a private /24 that appears nowhere in the environment;
- ``shuffled``: an address another entity uses and this one was never seen with.

Everything is drawn from one seeded generator, so a rerun of the night builds the same sets.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import numpy as np

# Non-public IPv4 space (RFC 6890 and friends): never a "random public" address.
_NOT_PUBLIC = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]
_LOW = np.array([int(n.network_address) for n in _NOT_PUBLIC], dtype=np.uint64)
_HIGH = np.array([int(n.broadcast_address) for n in _NOT_PUBLIC], dtype=np.uint64)
KINDS = ("random_public", "unused_subnet", "shuffled")


class SetsTooSmall(ValueError):
    """Not enough normal pairs to choose a threshold on."""


@dataclass
class PairSets:
    normal: list[tuple[str, str]]
    abnormal: dict[str, list[tuple[str, str]]]
    notes: list[str] = field(default_factory=list)
    labelled_false_positive: list[tuple[str, str]] = field(default_factory=list)  # in normal

    def sizes(self) -> dict[str, int]:
        return {"normal": len(self.normal), **{k: len(v) for k, v in self.abnormal.items()}}


def _to_ip(values: np.ndarray) -> list[str]:
    v = values.astype(np.uint64)
    return [
        f"{a}.{b}.{c}.{d}"
        for a, b, c, d in zip(
            (v >> np.uint64(24)) & np.uint64(255),
            (v >> np.uint64(16)) & np.uint64(255),
            (v >> np.uint64(8)) & np.uint64(255),
            v & np.uint64(255),
            strict=True,
        )
    ]


def random_public(rng: np.random.Generator, n: int) -> list[str]:
    out = np.empty(0, np.uint64)
    while out.size < n:
        draw = rng.integers(0, 2**32, 2 * n + 16, dtype=np.uint64)
        private = ((draw[:, None] >= _LOW) & (draw[:, None] <= _HIGH)).any(axis=1)
        out = np.concatenate([out, draw[~private]])
    return _to_ip(out[:n])


def unused_private(rng: np.random.Generator, n: int, used_24: set[int]) -> list[str]:
    """Addresses in 10.0.0.0/8 /24s that no observed address falls in."""
    out: list[int] = []
    while len(out) < n:
        draw = rng.integers(0, 2**24, 2 * n + 16, dtype=np.uint64) | np.uint64(10 << 24)
        free = [int(x) for x in draw if int(x) >> 8 not in used_24]
        out.extend(free)
    return _to_ip(np.array(out[:n], dtype=np.uint64))


def _slash24(ip: str) -> int | None:
    try:
        addr = ipaddress.IPv4Address(ip)
    except ValueError:
        return None
    return int(addr) >> 8


def build_sets(
    normal_pairs: list[tuple[str, str]],
    known_entities: set[str],
    observed_pairs: set[tuple[str, str]],
    seed: int,
    max_normal: int = 100_000,
    max_abnormal: int = 5_000,
    min_normal: int = 200,
    seen_share: float | None = None,
    false_positives: list[tuple[str, str]] | None = None,
    true_positives: list[tuple[str, str]] | None = None,
) -> PairSets:
    """Normal and abnormal sets for one night; raises ``SetsTooSmall`` with the counts.

    ``seen_share``: the share of a fresh day's pairs that earlier days already had. A held-out
    split of a day the model trained on is mostly pairs the model saw that same day (three in
    four in the demo, against one in two on a fresh day), which scores the normal set too
    kindly and loosens the threshold; given the share, pairs seen in training are subsampled
    to it (``match_seen_share``).

    Analysts' labels: pairs labelled true positive leave the normal set (a night's attack
    counted as normal pulls the threshold under it) and form the ``analyst_true_positive``
    abnormal set; pairs labelled false positive join the normal set."""
    rng = np.random.default_rng(seed)
    attacks = {p for p in true_positives or [] if p[0] in known_entities}
    known, notes = _known_pairs(
        normal_pairs, known_entities, observed_pairs, attacks, rng, min_normal, seen_share
    )
    normal, labelled_fp = _sample_normal(
        known, rng, max_normal, known_entities, attacks, false_positives
    )
    if false_positives or true_positives:
        notes.append(
            f"analysts' labels: {len(labelled_fp)} false-positive pairs added to the normal "
            f"set, {len(attacks)} true-positive pairs kept out of it (abnormal set "
            "analyst_true_positive)"
        )
    n = min(max_abnormal, len(normal))
    entities = [normal[i][0] for i in rng.choice(len(normal), n, replace=True)]
    used_24 = _used_slash24s(known, observed_pairs)
    shuffled = _shuffled(entities, known, observed_pairs, rng)
    if len(shuffled) < n:
        notes.append(f"shuffled: {len(shuffled):,} of {n:,} (few unrelated addresses)")
    abnormal = {
        "random_public": list(zip(entities, random_public(rng, n), strict=True)),
        "unused_subnet": list(zip(entities, unused_private(rng, n, used_24), strict=True)),
        "shuffled": shuffled,
    }
    abnormal["analyst_true_positive"] = sorted(attacks)
    return PairSets(normal, {k: v for k, v in abnormal.items() if v}, notes, labelled_fp)


def _known_pairs(
    normal_pairs: list[tuple[str, str]],
    known_entities: set[str],
    observed_pairs: set[tuple[str, str]],
    attacks: set[tuple[str, str]],
    rng: np.random.Generator,
    min_normal: int,
    seen_share: float | None,
) -> tuple[list[tuple[str, str]], list[str]]:
    """The distinct candidate pairs of known entities, attacks out and seen pairs matched to
    ``seen_share``, with the notes so far; raises ``SetsTooSmall`` when too few are left to
    put a threshold on."""
    known = sorted({(e, a) for e, a in normal_pairs if e in known_entities} - attacks)
    notes = [
        f"{len(normal_pairs):,} normal candidate rows, {len(known):,} distinct pairs of known "
        "entities"
    ]
    if seen_share is not None:
        known, note = match_seen_share(known, observed_pairs, seen_share, rng)
        notes.append(note)
    if len(known) < min_normal:
        raise SetsTooSmall(
            f"{len(known):,} normal pairs of known entities (need at least "
            f"{min_normal:,}); {notes[0]}"
        )
    return known, notes


def _sample_normal(
    known: list[tuple[str, str]],
    rng: np.random.Generator,
    max_normal: int,
    known_entities: set[str],
    attacks: set[tuple[str, str]],
    false_positives: list[tuple[str, str]] | None,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The normal set: at most ``max_normal`` known pairs (scoring time grows with it), plus
    the analysts' false positives not already in it. Returns it and those false positives."""
    pick = rng.choice(len(known), min(max_normal, len(known)), replace=False)
    normal = [known[i] for i in sorted(pick)]
    picked = set(normal)
    labelled_fp = sorted(
        {p for p in false_positives or [] if p[0] in known_entities and p not in attacks} - picked
    )
    normal += labelled_fp
    return normal, labelled_fp


def _used_slash24s(known: list[tuple[str, str]], observed_pairs: set[tuple[str, str]]) -> set[int]:
    """Every /24 an address of the night or of training falls in, so ``unused_subnet``
    addresses are truly unused."""
    used_24 = {s for _, a in known for s in [_slash24(a)] if s is not None}
    used_24 |= {s for _, a in observed_pairs for s in [_slash24(a)] if s is not None}
    return used_24


def _shuffled(
    entities: list[str],
    known: list[tuple[str, str]],
    observed_pairs: set[tuple[str, str]],
    rng: np.random.Generator,
) -> list[tuple[str, str]]:
    """Each entity paired with an address another entity uses and this one was never seen
    with: abnormal pairs that look like the environment's own traffic. Up to 20 draws each;
    entities that find none are left out."""
    by_address: dict[str, set[str]] = {}
    for e, a in known:
        by_address.setdefault(a, set()).add(e)
    addresses = sorted(by_address)
    shuffled: list[tuple[str, str]] = []
    for e in entities:
        for _ in range(20):  # an address some other entity uses, never seen with this one
            a = addresses[int(rng.integers(0, len(addresses)))]
            if e not in by_address[a] and (e, a) not in observed_pairs:
                shuffled.append((e, a))
                break
    return shuffled


def match_seen_share(
    pairs: list[tuple[str, str]],
    observed: set[tuple[str, str]],
    share: float,
    rng: np.random.Generator,
) -> tuple[list[tuple[str, str]], str]:
    """``pairs`` with those in ``observed`` subsampled so they make up ``share`` of the
    result (never more than there are); the rest all kept. Returns the pairs and a note."""
    seen = [p for p in pairs if p in observed]
    new = [p for p in pairs if p not in observed]
    share = min(max(share, 0.0), 1.0)
    want = len(seen) if share >= 1.0 else round(len(new) * share / (1.0 - share))
    if want >= len(seen):
        return (
            pairs,
            f"seen in training: {len(seen):,} of {len(pairs):,} (target share {share:.0%})",
        )
    keep = set(rng.choice(len(seen), want, replace=False).tolist())
    out = new + [p for i, p in enumerate(seen) if i in keep]
    return sorted(out), (
        f"seen in training: kept {want:,} of {len(seen):,} so they are {share:.0%} of the "
        f"normal set, as on a fresh day ({len(new):,} new pairs kept)"
    )
