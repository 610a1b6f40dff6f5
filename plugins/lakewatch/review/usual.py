"""What an entity usually does, for the analyst beside a finding: its usual prefixes and peers.

Read from the training window of the model that scored the finding (the registry record names
its extract parts), not from the detector's history, whose keys are hashes: an analyst needs
``10.0.12.0/24``, not a number. An entity's usual prefixes are the /24s (IPv6: /64s) it used
most; its peers are the entities that used most of the same /24s, those that fewer than
``max_shared`` entities use (a prefix everyone uses says nothing), as the detector finds them.
Built once per model and kept: the page asks for many entities of the same model.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Any

from lakewatch.extract.export import read_parts
from lakewatch.model.registry import Registry


@dataclass
class Usual:
    entity: str
    pairs: int  # the entity's pairs in the training window (0: never seen)
    prefixes: list[tuple[str, int]] = field(default_factory=list)  # most used first
    peers: list[tuple[str, int]] = field(default_factory=list)  # (entity, /24s shared)


def prefix_of(ip: str) -> str | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    bits = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{bits}", strict=False))


class WindowIndex:
    """Prefix counts per entity over a training window's pairs."""

    def __init__(self, pairs: Any, max_shared: int = 50):
        self.by_entity: dict[str, Counter[str]] = defaultdict(Counter)
        for entity, ip in pairs:
            prefix = prefix_of(ip)
            if prefix is not None:
                self.by_entity[entity][prefix] += 1
        users: dict[str, set[str]] = defaultdict(set)
        for entity, prefixes in self.by_entity.items():
            for prefix in prefixes:
                users[prefix].add(entity)
        self.users = {p: e for p, e in users.items() if len(e) < max_shared}

    def usual(self, entity: str, top: int = 5) -> Usual:
        prefixes = self.by_entity.get(entity)
        if not prefixes:
            return Usual(entity, 0)
        shared: Counter[str] = Counter()
        for prefix in prefixes:
            for other in self.users.get(prefix, ()):
                if other != entity:
                    shared[other] += 1
        return Usual(
            entity,
            sum(prefixes.values()),
            prefixes.most_common(top),
            sorted(shared.items(), key=lambda kv: (-kv[1], kv[0]))[:top],
        )


class UsualByModel:
    """``usual(model_id, entity)`` over that model's training window, built once per model.
    The ``models`` most recently asked for are held: one page ranks the network and the
    sign-in models' findings together, and holding only one rebuilt a window at every switch."""

    def __init__(self, store: Any, models_prefix: str, limit: int = 2_000_000, models: int = 2):
        self.store, self.registry, self.limit = store, Registry(store, models_prefix), limit
        self.models = models
        self._index: OrderedDict[str, WindowIndex | None] = OrderedDict()

    def usual(self, model_id: str, entity: str) -> Usual | None:
        """None when the model (or its training window) is not in the registry."""
        if model_id not in self._index:
            record = self.registry.get(model_id)
            keys = (record.extra.get("train_parts") or []) if record else []
            window = read_parts(self.store, keys, self.limit) if keys else None
            self._index[model_id] = WindowIndex(window) if window else None
            while len(self._index) > self.models:
                self._index.popitem(last=False)
        self._index.move_to_end(model_id)
        index = self._index[model_id]
        return index.usual(entity) if index else None
