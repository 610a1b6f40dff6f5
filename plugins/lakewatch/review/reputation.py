"""An IP reputation list the user supplies, to rank findings with evidence from outside the
model (the source design's "IP reputation scores to rank threat findings").

The list is CSV, one ``cidr,score[,source]`` per line (score 0-100, higher is worse; a bare
address is its /32 or /128; ``#`` starts a comment). A line that does not parse is counted and
reported with its number, never silently dropped, and the rest of the list still applies.
Lookups take the most specific matching range.
"""

from __future__ import annotations

import csv
import io
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakewatch.aws.s3 import S3Uri

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Match:
    score: float
    cidr: str
    source: str


@dataclass
class Reputation:
    # (version, prefix length) -> network address as an int -> match
    _by_length: dict[tuple[int, int], dict[int, Match]] = field(default_factory=dict)
    entries: int = 0
    bad_lines: list[str] = field(default_factory=list)
    _longest_first: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str, where: str = "the reputation list") -> Reputation:
        rep = cls()
        for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
                continue
            try:
                if len(row) < 2:
                    raise ValueError("expected cidr,score[,source]")
                net: Network = ipaddress.ip_network(row[0].strip(), strict=False)
                score = float(row[1])
                if not 0 <= score <= 100:
                    raise ValueError(f"score {score} is not between 0 and 100")
            except ValueError as err:
                rep.bad_lines.append(f"{where} line {number}: {err}")
                continue
            source = row[2].strip() if len(row) > 2 else ""
            table = rep._by_length.setdefault((net.version, net.prefixlen), {})
            table[int(net.network_address)] = Match(score, str(net), source)
            rep.entries += 1
        rep._longest_first = sorted(rep._by_length, key=lambda k: -k[1])
        return rep

    def lookup(self, address: str) -> Match | None:
        """The most specific range holding ``address``, or None."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        bits = ip.max_prefixlen
        for version, length in self._longest_first:
            if version != ip.version:
                continue
            base = (int(ip) >> (bits - length)) << (bits - length) if length else 0
            found = self._by_length[(version, length)].get(base)
            if found is not None:
                return found
        return None

    def worst(self, addresses: tuple[str, ...] | list[str]) -> Match | None:
        """The worst match among a finding's addresses."""
        matches = [m for m in (self.lookup(a) for a in addresses) if m is not None]
        return max(matches, key=lambda m: m.score, default=None)


def read_reputation(where: str, s3: Any) -> Reputation:
    """The list at ``where``: an ``s3://`` URI (read with ``s3``) or a file."""
    if where.startswith("s3://"):
        uri = S3Uri.parse(where)
        text = s3.get_object(Bucket=uri.bucket, Key=uri.key)["Body"].read().decode()
    else:
        text = Path(where).read_text()
    return Reputation.parse(text, where)
