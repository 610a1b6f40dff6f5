"""Who acts in the synthetic lake's CloudTrail: the company's people, IAM users, CI roles and
the instances' roles, and the networks each acts from. Built once per seed, from a stream of
its own (the network world's draws are untouched).

Per account:

- people, who sign in to the console through IAM Identity Center (SSO): each with one
  permission set's reserved role (``AWSReservedSSO_<set>_<hex>``), a home network (a /24 of a
  broadband provider), the company's two offices (a few NAT addresses each, shared by
  everyone), and for some a mobile carrier's range they use when travelling;
- IAM users: an operations administrator who signs in with MFA, a legacy administrator who
  signs in without it, and a reporting job's user whose access key assumes a read-only role
  every hour from the office's build server;
- CI roles assumed with GitHub's OIDC tokens (``AssumeRoleWithWebIdentity``) from a few fixed
  ranges of GitHub's hosted runners;
- one role per service, that the service's instances use from inside the VPC (their private
  address, through the account's VPC endpoint), its sessions named by the instance id.

Attackers' addresses come from ``world.HOSTILE_RANGES``, which none of the above uses.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import numpy as np

from lakewatch.lake.synthetic.world import CLIENT_RANGES, SERVICES, World

_KEY = 31_000_001  # the identities' random stream
_ALNUM = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"))
_HEX = np.array(list("0123456789abcdef"))
FIRST_NAMES = (
    "ana", "ben", "chen", "dara", "eli", "fatima", "gus", "hana", "ivan", "jo", "kofi", "lena",
    "mia", "nils", "omar", "priya", "quinn", "rosa", "sam", "tariq", "uma", "vik", "wen", "yara",
)  # fmt: skip
LAST_NAMES = ("alvarez", "brown", "costa", "dubois", "eze", "fischer", "garcia", "haddad", "ito")
PERMISSION_SETS = ("AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess")
# GitHub-hosted runners' egress (Azure ranges); the offices' and homes' are drawn below.
GITHUB_RANGES = ("20.57.0.0/17", "40.77.0.0/17", "172.176.0.0/15")
DOMAIN = "example.com"


@dataclass(frozen=True)
class Network:
    """Addresses someone signs in from: ``size`` addresses from ``base`` (an IPv4 integer),
    inside the /``prefix`` that starts just before it."""

    base: int
    size: int
    prefix: int = 32

    @property
    def cidr(self) -> str:
        return str(
            ipaddress.ip_network(f"{ipaddress.IPv4Address(self.base)}/{self.prefix}", strict=False)
        )

    def pick(self, rng: np.random.Generator) -> str:
        return str(ipaddress.IPv4Address(self.base + int(rng.integers(0, self.size))))

    def __contains__(self, address: str) -> bool:
        return self.base <= int(ipaddress.IPv4Address(address)) < self.base + self.size


@dataclass(frozen=True)
class Person:
    name: str  # the Identity Center user name (lower case): the SSO session's name
    account: int
    role: str  # the permission set's reserved role in the account
    role_id: str  # its AROA id
    home: Network
    travel: tuple[Network, ...]
    admin: bool


@dataclass(frozen=True)
class IamUser:
    name: str
    account: int
    user_id: str  # AIDA...
    access_key: str  # AKIA...
    console: bool
    mfa: bool
    job_role: str | None = None  # the role its access key assumes every hour
    job_role_id: str | None = None


@dataclass(frozen=True)
class CiRole:
    name: str
    account: int
    role_id: str
    repo: str
    runs_per_day: int


@dataclass(frozen=True)
class ServiceRole:
    name: str
    account: int
    role_id: str
    service: str


@dataclass
class AccountIdentities:
    people: list[Person] = field(default_factory=list)
    users: list[IamUser] = field(default_factory=list)
    ci_roles: list[CiRole] = field(default_factory=list)
    service_roles: dict[str, ServiceRole] = field(default_factory=dict)
    saml_provider: str = ""  # the Identity Center SAML provider's name
    vpce: str = ""  # the account's VPC endpoint for AWS APIs


class Identities:
    """The CloudTrail population of a world."""

    def __init__(self, world: World, seed: int, people_per_account: int):
        self.world = world
        self.rng = np.random.default_rng([seed, _KEY])
        rng = self.rng
        clients = [ipaddress.IPv4Network(c) for c in CLIENT_RANGES]
        self.offices = tuple(
            Network(self._random_base(clients[k % len(clients)], 28), 6, 28) for k in range(2)
        )
        self.build_server = self.offices[0].base + 10  # the reporting job's address
        self.github = tuple(
            Network(int(n.network_address), n.num_addresses, n.prefixlen)
            for n in (ipaddress.ip_network(c) for c in GITHUB_RANGES)
        )
        self.accounts: list[AccountIdentities] = []
        names = [f"{f}.{last}" for last in LAST_NAMES for f in FIRST_NAMES]
        order = rng.permutation(len(names))
        taken = 0
        for a in range(len(world.accounts)):
            ids = AccountIdentities(
                saml_provider=f"AWSSSO_{self._hex(16)}_DO_NOT_DELETE",
                vpce=f"vpce-{self._hex(17)}",
            )
            sets = {p: f"AWSReservedSSO_{p}_{self._hex(16)}" for p in PERMISSION_SETS}
            for _ in range(people_per_account):
                name = names[int(order[taken % len(names)])]
                if taken >= len(names):
                    name = f"{name}{taken // len(names)}"
                taken += 1
                pset = PERMISSION_SETS[int(rng.choice(3, p=[0.3, 0.4, 0.3]))]
                home = Network(self._random_base(clients[int(rng.integers(0, 10))], 24), 254, 24)
                travel = tuple(
                    Network(self._random_base(clients[int(rng.integers(0, 10))], 20), 4094, 20)
                    for _ in range(int(rng.choice(3, p=[0.4, 0.4, 0.2])))
                )
                ids.people.append(
                    Person(
                        f"{name}@{DOMAIN}",
                        a,
                        sets[pset],
                        self._aws_id("AROA"),
                        home,
                        travel,
                        pset == "AdministratorAccess",
                    )
                )
            ids.users = [
                IamUser("ops-admin", a, self._aws_id("AIDA"), self._aws_id("AKIA"), True, True),
                IamUser("legacy-admin", a, self._aws_id("AIDA"), self._aws_id("AKIA"), True, False),
                IamUser(
                    "reporting",
                    a,
                    self._aws_id("AIDA"),
                    self._aws_id("AKIA"),
                    False,
                    False,
                    "reporting-readonly",
                    self._aws_id("AROA"),
                ),
            ]
            ids.ci_roles = [
                CiRole("github-actions-deploy", a, self._aws_id("AROA"), "example-org/app", 8),
                CiRole("terraform-apply", a, self._aws_id("AROA"), "example-org/infra", 3),
            ]
            ids.service_roles = {
                s.name: ServiceRole(f"{s.name}-instance-role", a, self._aws_id("AROA"), s.name)
                for s in SERVICES
            }
            self.accounts.append(ids)

    def _hex(self, n: int) -> str:
        return "".join(_HEX[self.rng.integers(0, 16, n)])

    def _aws_id(self, prefix: str) -> str:
        return prefix + "".join(_ALNUM[self.rng.integers(0, _ALNUM.size, 16)])

    def _random_base(self, net: ipaddress.IPv4Network, prefix: int) -> int:
        """A random /``prefix`` inside ``net`` (its first address, plus one)."""
        blocks = 2 ** (prefix - net.prefixlen)
        block = int(self.rng.integers(1, blocks - 1))
        return int(net.network_address) + block * 2 ** (32 - prefix) + 1

    # ARNs -------------------------------------------------------------------------------------

    def account_uid(self, account: int) -> str:
        return self.world.accounts[account].uid

    def user_arn(self, user: IamUser) -> str:
        return f"arn:aws:iam::{self.account_uid(user.account)}:user/{user.name}"

    def role_arn(self, account: int, role: str, path: str = "") -> str:
        return f"arn:aws:iam::{self.account_uid(account)}:role/{path}{role}"

    def session_arn(self, account: int, role: str, session: str) -> str:
        return f"arn:aws:sts::{self.account_uid(account)}:assumed-role/{role}/{session}"

    def sso_role_arn(self, person: Person) -> str:
        return self.role_arn(person.account, person.role, "aws-reserved/sso.amazonaws.com/")

    def usual_networks(self) -> list[dict]:
        """Each principal's usual networks (CIDRs or 'inside the VPC'): for the world manifest
        and the findings' "usual networks"."""
        offices = [n.cidr for n in self.offices]
        out: list[dict] = []
        for a, ids in enumerate(self.accounts):
            acct = self.account_uid(a)
            for p in ids.people:
                nets = [*offices, p.home.cidr, *(t.cidr for t in p.travel)]
                out.append(
                    {
                        "principal": f"sso:{p.name}",
                        "kind": "person",
                        "account_id": acct,
                        "networks": nets,
                    }
                )
            for u in ids.users:
                nets = offices if u.console else [f"{ipaddress.IPv4Address(self.build_server)}/32"]
                out.append(
                    {
                        "principal": self.user_arn(u),
                        "kind": "iam_user",
                        "account_id": acct,
                        "networks": nets,
                    }
                )
            for r in ids.ci_roles:
                out.append(
                    {
                        "principal": self.role_arn(a, r.name),
                        "kind": "ci_role",
                        "account_id": acct,
                        "networks": list(GITHUB_RANGES),
                    }
                )
            for s in ids.service_roles.values():
                out.append(
                    {
                        "principal": self.role_arn(a, s.name),
                        "kind": "service_role",
                        "account_id": acct,
                        "networks": [str(self.world.accounts[a].cidr)],
                    }
                )
        return out
