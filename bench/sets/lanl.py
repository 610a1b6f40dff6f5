"""Users authenticating to computers, after LANL's 2015 authentication data, with red teams.

Written from the published description of Los Alamos National Laboratory's "Comprehensive,
Multi-Source Cyber-Security Events" (A. D. Kent, 2015; https://csr.lanl.gov/data/cyber1/) and
the papers on authentication graphs from the same network (Kent and Liebrock, "Differentiating
user authentication graphs", 2013; Hagberg, Kent, Lemons and Neil, "Credential hopping in
authentication graphs", 2014; Kent, Liebrock and Neil, "Authentication graphs", 2015).

What it follows:

- Scale: 12,425 users and 17,684 computers over 58 days (the data set's page), so 1.42
  computers per user, kept at any ``users``.
- A pair is a successful authentication of a user to a computer (the destination computer of
  the auth file's events; the earlier "User-Computer Authentication Associations in Time" set
  records exactly ``time,user,computer``).
- The user-computer graph is bipartite and sparse (Hagberg et al. 2014): most users
  authenticate to their own desktop(s) and a few servers, with authentications both to
  individual computers and to central servers (the data set's page names the Active Directory
  domain controllers), and users with system administration privileges have graphs
  distinguishable from the rest "in terms of size and complexity" (Kent and Liebrock 2013):
  here, far larger.
- Red team: ``redteam.txt`` holds the authentication events of a red-team exercise inside the
  58 days, as ``time,user@domain,source computer,destination computer``: compromised users'
  credentials used from a handful of source computers against destinations across the network.
  Papers that use the file report about 750 events for about 100 compromised users reaching a
  few hundred destination computers (the data set's page gives no counts, and neither did the
  pages searched for this bench, so the shares are approximate): 0.8% of users compromised,
  destinations 1.7% of computers, about 7.5 events per compromised user. One exercise here
  (``campaign``) keeps those shares; ``campaigns`` independent exercises are drawn so that the
  figures rest on enough pairs. Which users and destinations the red team chose is not
  published: both are drawn uniformly (administrators included).

Where it simplifies (choices of this bench, not published):

- The data is de-identified and has no addresses, while IP Insights needs them: computers are
  placed in an address plan of this module's own. Each division has a /16 of 10/8; its
  departments' workstations fill /24s of it in turn (a /24 may hold two departments, as a
  floor would); department servers sit in a server /24 of their division; central servers sit
  in a data-centre /16, 64 to a /24 in no particular order.
- Days, not seconds; one row per (user, computer, day) with at least one authentication, as a
  daily extract would have it; weekends, failures, machine accounts and authentication types
  are left out.
- Rates (desktops per user, servers per user, administrators 3% of users, the daily chance of
  a first authentication to a new server) are this module's choices, stated in the code. The
  graph gains edges from day to day (users start using a server, log on to a colleague's
  machine): those are the normal look-alikes of the red team's pairs.

Test: the day after training; the normal pairs are that day's distinct pairs of known users;
the red team's pairs that are one of the user's own normal pairs (its desktop, say) are left
out (their count is in the notes), since no pair scorer can tell them apart.
"""

from __future__ import annotations

import numpy as np

from bench.sets import Dataset

USERS_2015 = 12_425
COMPUTERS_2015 = 17_684
RED_USERS_SHARE = 100 / USERS_2015
RED_DESTINATIONS_SHARE = 300 / COMPUTERS_2015
RED_EVENTS_PER_USER = 7.5

SERVER_SHARE = 0.06  # of computers
DEPARTMENT_SERVER_SHARE = 0.3  # of servers
ADMIN_SHARE = 0.03  # of users


def _dotted(values: np.ndarray) -> list[str]:
    v = np.asarray(values, np.int64)
    return [
        f"{a}.{b}.{c}.{d}"
        for a, b, c, d in zip(v >> 24, v >> 16 & 255, v >> 8 & 255, v & 255, strict=True)
    ]


class _Enterprise:
    """Computers with addresses, and users with what they authenticate to."""

    def __init__(self, rng: np.random.Generator, users: int):
        self.n_users = users
        n_comp = round(users * COMPUTERS_2015 / USERS_2015)
        n_servers = max(8, round(n_comp * SERVER_SHARE))
        n_ws = n_comp - n_servers
        divisions = max(3, users // 400)
        departments = max(4, users // 40)
        second = rng.choice(np.arange(1, 199), divisions + 1, replace=False)
        division_net = (10 << 24) + (second[:divisions].astype(np.int64) << 16)
        datacentre = (10 << 24) + (int(second[-1]) << 16)
        dept_division = rng.integers(0, divisions, departments)
        dept_weight = rng.lognormal(0.0, 0.8, departments)
        self.user_dept = rng.choice(departments, users, p=dept_weight / dept_weight.sum())

        # desktops: one for most users, two or three for some; the rest are shared machines
        n_desk = np.where(rng.random(users) < 0.85, 1, rng.integers(2, 4, users))
        while n_desk.sum() > n_ws:
            n_desk[np.argmax(n_desk)] -= 1
        owner = np.repeat(np.arange(users), n_desk)
        shared = n_ws - owner.size
        ws_dept = np.concatenate([self.user_dept[owner], rng.integers(0, departments, shared)])
        self.ws_dept = ws_dept
        # workstations fill their division's /24s, department after department
        ws_addr = np.zeros(n_ws, np.int64)
        for div in range(divisions):
            idx = np.flatnonzero(dept_division[ws_dept] == div)
            idx = idx[np.argsort(ws_dept[idx], kind="stable")]
            slot = np.arange(idx.size)
            ws_addr[idx] = division_net[div] + ((slot // 200) << 8) + 10 + slot % 200
        self.desktops: list[np.ndarray] = np.split(np.arange(owner.size), np.cumsum(n_desk)[:-1])

        n_dept_srv = round(n_servers * DEPARTMENT_SERVER_SHARE)
        n_central = n_servers - n_dept_srv
        central_slot = rng.permutation(n_central)
        central_addr = datacentre + ((central_slot // 64) << 8) + 10 + central_slot % 64
        srv_dept = rng.integers(0, departments, n_dept_srv)
        dept_srv_addr = np.zeros(n_dept_srv, np.int64)
        for div in range(divisions):
            idx = np.flatnonzero(dept_division[srv_dept] == div)
            dept_srv_addr[idx] = division_net[div] + (250 << 8) + 10 + np.arange(idx.size)
        self.address = np.concatenate([ws_addr, central_addr, dept_srv_addr])
        self.n_computers = self.address.size
        self.central = n_ws + np.arange(n_central)
        pop = 1.0 / np.arange(1, n_central + 1) ** 1.1
        self.central_pop = pop[rng.permutation(n_central)] / pop.sum()
        self.dept_servers = {
            d: n_ws + n_central + np.flatnonzero(srv_dept == d) for d in range(departments)
        }
        self.dept_workstations = {d: np.flatnonzero(ws_dept == d) for d in range(departments)}
        self.division_of_computer = np.concatenate(
            [dept_division[ws_dept], np.full(n_central, -1), dept_division[srv_dept]]
        )

        # each user's servers, with a daily chance per server
        self.servers: list[list[int]] = []
        self.server_p: list[list[float]] = []
        self.p_active = rng.beta(9, 1, users)
        self.p_new = rng.beta(1, 15, users)  # a first authentication to a new server, daily
        for u in range(users):
            k = 1 + rng.poisson(3)
            mine = set(
                rng.choice(self.central, min(k, n_central), replace=False, p=self.central_pop)
            )
            own = self.dept_servers[int(self.user_dept[u])]
            if own.size and rng.random() < 0.5:
                mine |= set(rng.choice(own, min(own.size, int(rng.integers(1, 3))), replace=False))
            self.servers.append([int(s) for s in mine])
            self.server_p.append(list(rng.beta(1.5, 2.0, len(mine))))
        # administrators: a scope of their division's workstations or of servers
        self.admin_scope: dict[int, np.ndarray] = {}
        all_servers = np.arange(n_ws, self.n_computers)
        for u in rng.choice(users, max(1, round(users * ADMIN_SHARE)), replace=False):
            size = int(np.clip(rng.lognormal(4.0, 0.8), 10, 600))
            if rng.random() < 0.6:
                div = dept_division[self.user_dept[u]]
                pool = np.flatnonzero(dept_division[ws_dept] == div)
            else:
                pool = all_servers
            self.admin_scope[int(u)] = rng.choice(pool, min(size, pool.size), replace=False)

    def day(self, rng: np.random.Generator) -> list[tuple[int, int]]:
        """One day's distinct (user, computer) authentications."""
        out: set[tuple[int, int]] = set()
        for u in range(self.n_users):
            if rng.random() >= self.p_active[u]:
                continue
            desk = self.desktops[u]
            for i, c in enumerate(desk):
                if rng.random() < (0.95 if i == 0 else 0.5):
                    out.add((u, int(c)))
            for s, p in zip(self.servers[u], self.server_p[u], strict=True):
                if rng.random() < p:
                    out.add((u, s))
            if rng.random() < self.p_new[u]:  # starts using another central server
                s = int(rng.choice(self.central, p=self.central_pop))
                out.add((u, s))
                if s not in self.servers[u] and rng.random() < 0.5:
                    self.servers[u].append(s)
                    self.server_p[u].append(float(rng.beta(1.5, 2.0)))
            if rng.random() < 0.01:  # a colleague's machine
                pool = self.dept_workstations[int(self.user_dept[u])]
                out.add((u, int(rng.choice(pool))))
            scope = self.admin_scope.get(u)
            if scope is not None:
                k = min(scope.size, rng.poisson(np.clip(scope.size / 10, 2, 30)))
                out.update((u, int(c)) for c in rng.choice(scope, k, replace=False))
        return sorted(out)


def _name(u: int) -> str:
    return f"U{u + 1}@DOM1"


def lanl(seed: int = 2015, users: int = 3000, days: int = 20, campaigns: int = 12) -> Dataset:
    rng = np.random.default_rng(seed)
    ent = _Enterprise(rng, users)
    history = [ent.day(rng) for _ in range(days)]
    test = ent.day(rng)
    rows = [pair for day in history for pair in day]
    u = np.array([p[0] for p in rows])
    c = np.array([p[1] for p in rows])
    held = rng.random(u.size) < 0.1
    known_users = set(u.tolist())
    seen = set(rows) | set(test)

    def pairs(users_: np.ndarray, computers: np.ndarray) -> tuple[list[str], list[str]]:
        return [_name(int(x)) for x in users_], _dotted(ent.address[computers])

    normal = [p for p in test if p[0] in known_users]
    red: set[tuple[int, int]] = set()
    dropped = 0
    n_red_users = max(3, round(users * RED_USERS_SHARE))
    n_dst = max(10, round(ent.n_computers * RED_DESTINATIONS_SHARE))
    for _ in range(campaigns):
        compromised = rng.choice(sorted(known_users), n_red_users, replace=False)
        destinations = rng.choice(ent.n_computers, n_dst, replace=False)
        events = round(n_red_users * RED_EVENTS_PER_USER)
        for uu, cc in zip(
            rng.choice(compromised, events), rng.choice(destinations, events), strict=True
        ):
            pair = (int(uu), int(cc))
            if pair in seen:
                dropped += 1
            else:
                red.add(pair)
    red_sorted = sorted(red)
    return Dataset(
        "lanl",
        pairs(u[~held], c[~held]),
        pairs(u[held], c[held]),
        pairs(np.array([p[0] for p in normal]), np.array([p[1] for p in normal])),
        {
            "redteam": pairs(
                np.array([p[0] for p in red_sorted]), np.array([p[1] for p in red_sorted])
            )
        },
        [
            f"{users:,} users, {ent.n_computers:,} computers, {len(ent.admin_scope)} "
            f"administrators; {days} training days, test on the next; {campaigns} red-team "
            f"exercises of {n_red_users} users and {n_dst} destinations each; {dropped} red-team "
            "events on a pair of the user's own normal traffic left out"
        ],
    )
