"""A small business network after CIDDS-001, with its scans, brute force and DoS.

Written from the published description of CIDDS-001 (M. Ring, S. Wunderlich, D. Grüdl,
D. Landes, A. Hotho, "Flow-based benchmark data sets for intrusion detection", ECCWS 2017, and
its technical report) and from the generation scripts and settings the authors published with
it (github.com/markusring/CIDDS: ``serverconfig.ini``, ``config.ini``, ``mainscript.py``,
``browsing.py``, ``sshConnections.py``, ``attacking.py``, ``scan.py``, ``bruteForce.py``,
``dos.py``, ``iprange.txt``, ``ipList.txt``, the labelling and anonymisation scripts).

What it follows:

- The emulated business (OpenStack): a server subnet 192.168.100.0/24 with a backup server
  (.3), a mail server (.4), a file server (.5) and an internal web server (.6); three client
  subnets 192.168.200.0/24, .210.0/24 and .220.0/24, each with its printer at .3
  (``serverconfig.ini``); the clients' addresses as a scan of 192.168.220.0/24 found them
  (``ipList.txt``: .17 upwards). Debian and Windows 7 clients; only Debian clients use SSH.
- Clients work on workdays, 9 to 17 (``config.ini``), and pick activities at random with
  per-client weights: browsing (business or private sites from a fixed list, uniformly;
  search sites get a search and then random clicks on the results; other sites get clicks on
  their own links), mailing (the mail server), printing (the subnet's printer), copying files
  (the file server), Seafile (an external server), SSH (mail, file, web or the external
  server), meetings, offline work and breaks (no traffic). Debian clients update their
  packages at the end of the workday (``mainscript.py``).
- Attacks (``attacking.py``): a run starts with one attack and goes on with probability 3/4;
  each attack is a scan, an SSH brute force or a DoS, chosen uniformly. A scan (``scan.py``)
  takes one of the four /24s of ``iprange.txt`` and reaches every live host in it (FIN, ACK,
  UDP, SYN or ping scans alike); a brute force (``bruteForce.py``) tries 50-150 passwords for
  root on one host of the last scan's list (before any scan, ``ipList.txt``'s hosts of
  192.168.220.0/24); a DoS (``dos.py``) opens 10,000 connections to port 80 of the web
  server. The attackers' addresses are outside the business's subnets (the labelling script
  marks flows between an attacker's address and an internal one; the anonymisation names
  three attackers apart from the internal 192.168 addresses).

Where it simplifies (choices of this bench):

- Pairs are (host, peer): every address a host exchanged flows with, either way (the data set
  records unidirectional NetFlow, so each connection gives flows both ways). lakewatch splits
  outbound and inbound peers into two views; this set does not.
- The web: the published lists are placeholders ("TO FILL WITH FURTHER WEBSITES"), so this
  module makes its own: 12 business and 40 private sites, each with 1-3 addresses in a /24 of
  its own and a few third-party (CDN, analytics) addresses shared between sites; a click on a
  search result leaves for a site drawn from a long tail of 50,000 /24s (Zipf), so a
  client's normal traffic holds never-seen external addresses, as a browsing client's does:
  that caps every scorer on the attacks against clients. Windows clients reach a few update
  servers daily (an addition: the scripts do not say). DNS is one external resolver.
- Attack runs: each run is given an address of its own (the data set has three attackers),
  so the figures rest on many runs' victims; training holds no attacks (CIDDS-001 mixes
  attack days with attack-free ones; training on attack days would teach the model the
  attackers' pairs as normal).
- Workdays only; distinct pairs per day.
"""

from __future__ import annotations

import numpy as np

from bench.sets import Dataset

SERVERS = {"backup": 3, "mail": 4, "file": 5, "web": 6}  # 192.168.100.x
CLIENT_SUBNETS = (200, 210, 220)
PRINTER = 3
FIRST_CLIENT = 17
ACTIVITIES = ("browsing", "mailing", "printing", "copyfiles", "copysea", "ssh", "private")
QUIET = ("meeting", "offline", "breaks")


def _ipv4(a: int, b: int, c: int, d: int) -> int:
    return (a << 24) | (b << 16) | (c << 8) | d


def _text(v: int) -> str:
    return f"{v >> 24}.{v >> 16 & 255}.{v >> 8 & 255}.{v & 255}"


def _public_slash24(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct public /24 network addresses (outside private, loopback, multicast)."""
    out: set[int] = set()
    while len(out) < n:
        a = int(rng.integers(1, 224))
        b = int(rng.integers(0, 256))
        if a in (10, 127) or (a == 172 and 16 <= b < 32) or (a == 192 and b == 168):
            continue
        out.add(_ipv4(a, b, int(rng.integers(0, 256)), 0))
    return np.array(sorted(out), np.int64)[rng.permutation(n)]


class _Web:
    """Sites with their addresses, and the long tail that search results lead to."""

    def __init__(self, rng: np.random.Generator, business: int = 12, private: int = 40):
        nets = _public_slash24(rng, business + private + 30 + 50_000 + 8)
        third_party = nets[:30]
        self.sites: list[list[int]] = []
        self.search: list[bool] = []
        for i in range(business + private):
            own = nets[30 + i] + rng.choice(np.arange(2, 254), int(rng.integers(1, 4)), False)
            k = int(rng.integers(0, 5))
            extra = third_party[rng.choice(30, k, replace=False)] + rng.integers(2, 254, k)
            self.sites.append([int(x) for x in (*own, *extra)])
            self.search.append(i in (0, business, business + 1))  # one business, two private
        self.sites[1] = []  # "internWeb": the internal web server, added by the caller
        self.business = list(range(business))
        self.private = list(range(business, business + private))
        tail = nets[30 + business + private : 30 + business + private + 50_000]
        self.tail = tail
        p = np.cumsum(1.0 / np.arange(1, tail.size + 1))
        self.tail_cdf = p / p[-1]
        rest = nets[-8:]
        self.dns = int(rest[0]) + 53
        self.seafile = int(rest[1]) + 10  # the external server
        self.debian = [int(rest[2]) + h for h in (4, 5, 6)] + [int(rest[3]) + h for h in (7, 8)]
        self.windows = [int(rest[4]) + h for h in (20, 21, 22)] + [int(rest[5]) + 9]

    def result(self, rng: np.random.Generator) -> int:
        i = min(int(np.searchsorted(self.tail_cdf, rng.random())), self.tail.size - 1)
        return int(self.tail[i]) + int(rng.integers(2, 254))


class _Business:
    def __init__(self, rng: np.random.Generator, clients_per_subnet: int):
        self.web = _Web(rng)
        self.server = {k: _ipv4(192, 168, 100, v) for k, v in SERVERS.items()}
        self.printer = {s: _ipv4(192, 168, s, PRINTER) for s in CLIENT_SUBNETS}
        self.clients: list[int] = []
        self.subnet: list[int] = []
        self.debian: list[bool] = []
        self.weights: list[np.ndarray] = []
        for s in CLIENT_SUBNETS:
            for h in range(FIRST_CLIENT, FIRST_CLIENT + clients_per_subnet):
                self.clients.append(_ipv4(192, 168, s, h))
                self.subnet.append(s)
                deb = bool(rng.random() < 0.5)
                self.debian.append(deb)
                w = np.array(
                    [
                        rng.integers(1, 4),  # browsing
                        rng.integers(0, 4),  # mailing
                        rng.integers(0, 3),  # printing
                        rng.integers(0, 4),  # copyfiles
                        rng.integers(0, 3),  # copysea
                        rng.integers(0, 3) if deb else 0,  # ssh
                        rng.integers(0, 3),  # private browsing
                        rng.integers(0, 2),  # meeting
                        rng.integers(0, 3),  # offline
                        rng.integers(1, 3),  # breaks
                    ],
                    float,
                )
                self.weights.append(w / w.sum())
        self.p_workday = rng.uniform(0.85, 1.0, len(self.clients))

    def live_hosts(self, subnet: int) -> list[int]:
        if subnet == 100:
            return sorted(self.server.values())
        return [self.printer[subnet]] + [
            c for c, s in zip(self.clients, self.subnet, strict=True) if s == subnet
        ]

    def browse(self, rng: np.random.Generator, site: int) -> list[int]:
        web = self.web
        out = list(web.sites[site]) if site != 1 else [self.server["web"]]
        out.append(web.dns)
        clicks = 1 + rng.geometric(0.2)  # go on clicking with probability 4/5
        if web.search[site]:
            out += [web.result(rng) for _ in range(clicks) if rng.random() < 0.5]
        return out

    def day(self, rng: np.random.Generator) -> set[tuple[int, int]]:
        """One workday's distinct (host, peer) pairs, both ends of every connection."""
        flows: set[tuple[int, int]] = set()
        srv = self.server
        for i, me in enumerate(self.clients):
            if rng.random() >= self.p_workday[i]:
                continue
            for act in rng.choice(len(self.weights[i]), rng.poisson(50), p=self.weights[i]):
                name = (*ACTIVITIES, *QUIET)[act]
                peers: list[int] = []
                if name == "browsing":
                    peers = self.browse(rng, int(rng.choice(self.web.business)))
                elif name == "private":
                    peers = self.browse(rng, int(rng.choice(self.web.private)))
                elif name == "mailing":
                    peers = [srv["mail"]]
                elif name == "printing":
                    peers = [self.printer[self.subnet[i]]]
                elif name == "copyfiles":
                    peers = [srv["file"]]
                elif name == "copysea":
                    peers = [self.web.seafile, self.web.dns]
                elif name == "ssh":
                    targets = (srv["mail"], srv["file"], srv["web"], self.web.seafile)
                    peers = [targets[rng.integers(4)]]
                flows.update((me, p) for p in peers)
            updates = self.web.debian if self.debian[i] else self.web.windows
            flows.update((me, int(p)) for p in rng.choice(updates, 2, replace=False))
        for name in ("mail", "file", "web"):  # the nightly backup
            flows.add((srv[name], srv["backup"]))
        internal = (192 << 24) | (168 << 16)
        both = set(flows)
        both.update((b, a) for a, b in flows if b >> 16 == internal >> 16)
        return both

    def attack_run(self, rng: np.random.Generator, attacker: int) -> dict[str, set]:
        """One run of ``attacking.py`` from ``attacker``: the victims of each kind."""
        found = self.live_hosts(220)  # ipList.txt before any scan
        out: dict[str, set] = {"scan": set(), "bruteForce": set(), "dos": set()}
        first = True
        while first or rng.integers(0, 4) != 0:
            first = False
            kind = ("dos", "scan", "bruteForce")[rng.integers(3)]
            if kind == "scan":
                found = self.live_hosts(int(rng.choice([100, *CLIENT_SUBNETS])))
                out["scan"].update((h, attacker) for h in found)
            elif kind == "bruteForce":
                out["bruteForce"].add((found[rng.integers(len(found))], attacker))
            else:
                out["dos"].add((self.server["web"], attacker))
        return out


def cidds(
    seed: int = 2017,
    clients_per_subnet: int = 15,
    train_days: int = 10,
    test_days: int = 5,
    attack_runs: int = 150,
) -> Dataset:
    rng = np.random.default_rng(seed)
    biz = _Business(rng, clients_per_subnet)
    train_rows = [p for _ in range(train_days) for p in sorted(biz.day(rng))]
    test_rows = [p for _ in range(test_days) for p in sorted(biz.day(rng))]
    known = {h for h, _ in train_rows}
    held = rng.random(len(train_rows)) < 0.1

    def pairs(rows) -> tuple[list[str], list[str]]:
        return [_text(h) for h, _ in rows], [_text(p) for _, p in rows]

    attackers = _public_slash24(rng, attack_runs) + rng.integers(2, 254, attack_runs)
    anomalies: dict[str, set] = {"scan": set(), "bruteForce": set(), "dos": set()}
    for attacker in attackers:
        for kind, victims in biz.attack_run(rng, int(attacker)).items():
            anomalies[kind] |= {v for v in victims if v[0] in known}
    return Dataset(
        "cidds",
        pairs([r for r, h in zip(train_rows, held, strict=True) if not h]),
        pairs([r for r, h in zip(train_rows, held, strict=True) if h]),
        pairs([r for r in test_rows if r[0] in known]),
        {kind: pairs(sorted(v)) for kind, v in anomalies.items()},
        [
            f"{len(biz.clients)} clients, 4 servers, 3 printers; {train_days} training "
            f"workdays, {test_days} test workdays (distinct pairs per day); {attack_runs} "
            "attack runs, each from an address of its own"
        ],
    )
