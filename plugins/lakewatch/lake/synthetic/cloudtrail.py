"""The synthetic lake's CloudTrail management events, and the sign-in anomalies among them.

What the population of ``identities.py`` does each day, as CloudTrail records it (``CtRecord``,
version-neutral; ``cloudtrail_ocsf.py`` writes them as OCSF):

- people sign in to the console through IAM Identity Center on working days: an
  ``AssumeRoleWithSAML`` into their permission set's reserved role, a ``ConsoleLogin`` as its
  session, then the console's API calls (mostly reads; an administrator's occasional IAM
  change, an Account Change record), from the office, home, or a mobile network when travelling;
- the IAM users: the operations administrator's ``CheckMfa`` + ``ConsoleLogin`` with MFA,
  the legacy administrator's ``ConsoleLogin`` without it (now and then after a mistyped
  password), the reporting job's hourly ``AssumeRole`` from the build server with its access key;
- CI runs: ``AssumeRoleWithWebIdentity`` with a GitHub token from GitHub's runner ranges, then
  the deploy's or Terraform's calls as the role's session;
- the instances: EC2 fetching their role's credentials (``AssumeRole`` by the service, no
  address: ``src_endpoint.domain`` is ``ec2.amazonaws.com``), then their SDK calls (KMS, SSM,
  Secrets Manager) from their private address through the VPC endpoint, as sessions named by
  the instance's id that day (``churn.py``); AWS Config's describe calls; and where instances
  churn, Auto Scaling's ``RunInstances`` and ``TerminateInstances`` at midnight.

Injected anomalies (``SIGNIN_KINDS``), labelled with the principal ``lake.principals`` names
(the extract's ``signin`` view's rule) and the address:

- ``signin_new_network``: a person's console sign-in (SAML, ``ConsoleLogin``, API calls) from an
  address in a network they never used (a hosting range);
- ``access_key_new_address``: the reporting user's access key used from a new address (an
  ``AssumeRole`` and reconnaissance calls);
- ``role_new_range``: a CI role assumed with a web-identity token from outside GitHub's ranges,
  then used;
- ``signin_failures``: a burst of failed console sign-ins against an IAM user from one address.

Volume: ``cloudtrail_share`` of ``rows_per_day`` on top of the network rows; the people's, CI's
and jobs' records are what their population does, and the instances' SDK calls fill the rest.
Every day and slice draws from streams of its own (the network sources' are untouched).
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lakewatch.lake import arrow_util as au
from lakewatch.lake.principals import SSO_PREFIX
from lakewatch.lake.synthetic.churn import DayIds
from lakewatch.lake.synthetic.identities import CiRole, IamUser, Identities, Person
from lakewatch.lake.synthetic.options import SIGNIN_KINDS, Event, Label
from lakewatch.lake.synthetic.pools import ranges
from lakewatch.lake.synthetic.world import HOSTILE_RANGES, Instance, World

SIGNIN_VIEW = "signin"  # the extract's view of principals and the addresses they sign in from
SOURCE = "CLOUD_TRAIL_MGMT"
KEY = 41_000_003  # CloudTrail's random streams
HOUR_MS = 3_600_000
CONSOLE_URL = "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true"
BROWSERS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4.1 Safari/605.1.15",
)
BOTO = (
    "Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/linux#5.10.214 md/arch#x86_64 "
    "lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.84"
)
GO_SDK = "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64"
GITHUB_AGENT = "configure-aws-credentials-for-github-actions"
CLI = "aws-cli/2.15.38 Python/3.11.8 Linux/6.5.0-1018-azure exe/x86_64.ubuntu.22 prompt/off"
TERRAFORM = "APN/1.0 HashiCorp/1.0 Terraform/1.8.2 (+https://www.terraform.io) " + GO_SDK
ATTACKER_AGENTS = (
    "python-requests/2.31.0",
    "aws-cli/1.18.69 Python/3.8.10 Linux/5.15.0-kali3-amd64 botocore/1.17.55",
    "Boto3/1.26.0 Python/3.10.12 Linux/5.15.0-91-generic Botocore/1.29.0",
)

# (event source, operation, API Activity's activity id: 1 Create, 2 Read, 3 Update, 4 Delete)
Call = tuple[str, str, int]
CONSOLE_READS: tuple[Call, ...] = (
    ("ec2.amazonaws.com", "DescribeInstances", 2),
    ("s3.amazonaws.com", "ListBuckets", 2),
    ("monitoring.amazonaws.com", "GetMetricData", 2),
    ("logs.amazonaws.com", "DescribeLogGroups", 2),
    ("cloudtrail.amazonaws.com", "LookupEvents", 2),
    ("ce.amazonaws.com", "GetCostAndUsage", 2),
    ("iam.amazonaws.com", "ListRoles", 2),
    ("ecs.amazonaws.com", "DescribeServices", 2),
    ("rds.amazonaws.com", "DescribeDBInstances", 2),
    ("health.amazonaws.com", "DescribeEventAggregates", 2),
)
CONSOLE_WRITES: tuple[Call, ...] = (
    ("ec2.amazonaws.com", "RebootInstances", 3),
    ("ecs.amazonaws.com", "UpdateService", 3),
    ("ssm.amazonaws.com", "PutParameter", 1),
    ("s3.amazonaws.com", "PutBucketTagging", 3),
    ("ec2.amazonaws.com", "CreateTags", 1),
)
DEPLOY_CALLS: tuple[Call, ...] = (
    ("ecr.amazonaws.com", "GetAuthorizationToken", 2),
    ("ecs.amazonaws.com", "DescribeTaskDefinition", 2),
    ("ecs.amazonaws.com", "RegisterTaskDefinition", 1),
    ("ecs.amazonaws.com", "UpdateService", 3),
    ("ecs.amazonaws.com", "DescribeServices", 2),
    ("cloudformation.amazonaws.com", "DescribeStacks", 2),
)
TERRAFORM_CALLS: tuple[Call, ...] = (
    ("ec2.amazonaws.com", "DescribeVpcs", 2),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", 2),
    ("iam.amazonaws.com", "GetRole", 2),
    ("iam.amazonaws.com", "GetPolicy", 2),
    ("s3.amazonaws.com", "GetBucketPolicy", 2),
    ("rds.amazonaws.com", "DescribeDBClusters", 2),
    ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", 3),
)
JOB_CALLS: tuple[Call, ...] = (
    ("ce.amazonaws.com", "GetCostAndUsage", 2),
    ("s3.amazonaws.com", "ListBuckets", 2),
    ("monitoring.amazonaws.com", "GetMetricStatistics", 2),
)
INSTANCE_CALLS: tuple[Call, ...] = (
    ("kms.amazonaws.com", "Decrypt", 2),
    ("ssm.amazonaws.com", "GetParameter", 2),
    ("secretsmanager.amazonaws.com", "GetSecretValue", 2),
    ("sts.amazonaws.com", "GetCallerIdentity", 2),
    ("ec2.amazonaws.com", "DescribeTags", 2),
)
CONFIG_CALLS: tuple[Call, ...] = (
    ("ec2.amazonaws.com", "DescribeInstances", 2),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", 2),
    ("iam.amazonaws.com", "GetRole", 2),
    ("s3.amazonaws.com", "GetBucketAcl", 2),
)
RECON_CALLS: tuple[Call, ...] = (
    ("sts.amazonaws.com", "GetCallerIdentity", 2),
    ("iam.amazonaws.com", "ListUsers", 2),
    ("iam.amazonaws.com", "GetAccountAuthorizationDetails", 2),
    ("s3.amazonaws.com", "ListBuckets", 2),
    ("ec2.amazonaws.com", "DescribeInstances", 2),
    ("secretsmanager.amazonaws.com", "ListSecrets", 2),
    ("iam.amazonaws.com", "CreateAccessKey", 1),
)
# IAM changes (Account Change): operation, activity id (1 Create, 6 Delete, 7/8 Attach/Detach)
IAM_CHANGES = (
    ("CreateUser", 1),
    ("AttachUserPolicy", 7),
    ("DetachUserPolicy", 8),
    ("DeleteUser", 6),
)
READ_ONLY_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


@dataclass
class Identity:
    """CloudTrail's ``userIdentity``: who called."""

    type: str  # IAMUser | AssumedRole | SAMLUser | WebIdentityUser | AWSService
    name: str | None = None
    arn: str | None = None
    principal_id: str | None = None
    account_uid: str | None = None
    credential_uid: str | None = None
    invoked_by: str | None = None
    idp: str | None = None
    session_issuer: str | None = None  # a session's role ARN
    session_created: int | None = None
    session_mfa: bool | None = None


@dataclass
class Target:
    """The OCSF ``user`` of an Authentication or Account Change record: who was signed in
    to, assumed or changed."""

    arn: str | None
    principal_id: str | None = None
    name: str | None = None


@dataclass
class CtRecord:
    """One CloudTrail management event, before it is OCSF."""

    time: int
    kind: str  # auth (Authentication) | api (API Activity) | account (Account Change)
    service: str  # eventSource
    operation: str  # eventName
    actor: Identity
    ip: str | None  # sourceIPAddress, when an address
    user_agent: str
    activity_id: int = 1
    event_type: str = "AwsApiCall"  # AwsConsoleSignIn | AwsApiCall | AwsServiceEvent
    domain: str | None = None  # sourceIPAddress, when a service's name
    target: Target | None = None
    success: bool = True
    error: str | None = None
    message: str | None = None
    mfa: bool | None = None  # a console sign-in's
    console: bool = False  # a console sign-in or MFA check (its request id is '')
    resources: list[tuple[str, str]] = field(default_factory=list)  # (ARN, type)
    request: dict[str, str] | None = None
    response: dict[str, str] | None = None
    extra: dict[str, str] = field(default_factory=dict)  # additionalEventData
    vpce: str | None = None
    event_id: str = ""
    request_id: str = ""
    label: int = -1


@dataclass
class CtSlice:
    """One account's CloudTrail records for a time slice of a day, while they are written."""

    ids: Identities
    account: int
    t0: int
    t1: int
    day_end: int
    rng: np.random.Generator
    day_ids: DayIds | None = None
    records: list[CtRecord] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)

    @property
    def world(self) -> World:
        return self.ids.world

    @property
    def account_uid(self) -> str:
        return self.ids.account_uid(self.account)

    def uid(self, instance: Instance) -> str:
        return self.day_ids.uid(instance.index) if self.day_ids else instance.uid

    def add(self, record: CtRecord) -> None:
        """A record, its time in whole seconds (as CloudTrail's) and within the day."""
        record.time = min(record.time - record.time % 1000, self.day_end - 1000)
        self.records.append(record)

    def finish(self) -> list[CtRecord]:
        """The slice's records in time order, with their event and request ids."""
        blob = self.rng.bytes(32 * len(self.records))
        for k, record in enumerate(self.records):
            record.event_id = str(uuid.UUID(bytes=blob[32 * k : 32 * k + 16], version=4))
            request = str(uuid.UUID(bytes=blob[32 * k + 16 : 32 * k + 32], version=4))
            record.request_id = "''" if record.console else request
        return sorted(self.records, key=lambda r: r.time)

    def label(self, event: Event, entity: str, ip: str) -> int:
        self.labels.append(Label(event.event_id, event.kind, entity, ip, SIGNIN_VIEW, SOURCE))
        return len(self.labels) - 1

    def times(self, start: int, n: int, span: int = HOUR_MS) -> np.ndarray:
        """``n`` sorted times in the ``span`` after ``start``."""
        return start + np.sort(self.rng.integers(2_000, span, n))


# the day's plan: who acts when and from where ---------------------------------------------------


@dataclass(frozen=True)
class Session:
    who: str  # person | console_user | job | ci | ec2
    index: int  # into the account's people, users or CI roles, or a world instance index
    start: int  # epoch ms
    ip: str | None


def plan_day(ids: Identities, account: int, weekday: bool, day_start: int, rng) -> list[Session]:
    """The account's sessions of the day (a working day: ``weekday``, as
    ``GenerateOptions.is_weekday`` says), from a stream of the day's own."""
    acct = ids.accounts[account]
    out: list[Session] = []

    def at(first_hour: float, last_hour: float) -> int:
        return day_start + int(rng.uniform(first_hour, last_hour) * HOUR_MS)

    for k, person in enumerate(acct.people):
        if rng.random() >= (0.85 if weekday else 0.08):
            continue
        away = person.travel[int(rng.integers(0, len(person.travel)))] if person.travel else None
        travelling = away is not None and rng.random() < 0.06
        for _ in range(1 + int(rng.poisson(0.7))):
            if travelling and away is not None:
                ip = away.pick(rng)
            elif weekday and rng.random() < 0.7:
                ip = ids.offices[int(rng.integers(0, len(ids.offices)))].pick(rng)
            else:
                ip = person.home.pick(rng)
            out.append(Session("person", k, at(6.5, 19.5), ip))
    for k, user in enumerate(acct.users):
        if user.console and rng.random() < ((0.5 if user.mfa else 0.4) if weekday else 0.02):
            ip = ids.offices[int(rng.integers(0, len(ids.offices)))].pick(rng)
            out.append(Session("console_user", k, at(8, 18), ip))
        if user.job_role:
            build = str(ipaddress.IPv4Address(ids.build_server))
            for hour in range(24):
                out.append(Session("job", k, day_start + hour * HOUR_MS + 300_000, build))
    for k, role in enumerate(acct.ci_roles):
        runs = int(rng.poisson(role.runs_per_day if weekday else 0.5))
        for _ in range(runs):
            net = ids.github[int(rng.integers(0, len(ids.github)))]
            out.append(Session("ci", k, at(6, 22), net.pick(rng)))
    for index in ids.world.accounts[account].instances:
        offset = int(rng.integers(0, 6 * HOUR_MS))
        for k in range(4):  # instance credentials last six hours
            out.append(Session("ec2", index, day_start + offset + k * 6 * HOUR_MS, None))
    return out


# normal activity -----------------------------------------------------------------------------


def render(sl: CtSlice, session: Session) -> None:
    """A planned session's records."""
    acct = sl.ids.accounts[sl.account]
    if session.who == "person":
        assert session.ip is not None
        person_session(sl, acct.people[session.index], session.start, session.ip)
    elif session.who == "console_user":
        assert session.ip is not None
        console_user_session(sl, acct.users[session.index], session.start, session.ip)
    elif session.who == "job":
        assert session.ip is not None
        job_run(sl, acct.users[session.index], session.start, session.ip)
    elif session.who == "ci":
        assert session.ip is not None
        ci_run(sl, acct.ci_roles[session.index], session.start, session.ip)
    else:
        instance_credentials(sl, sl.world.instances[session.index], session.start)


def person_session(
    sl: CtSlice, person: Person, start: int, ip: str, label: int = -1, hostile: bool = False
) -> None:
    """An SSO console sign-in: SAML into the reserved role, the console sign-in, its calls."""
    rng, ids = sl.rng, sl.ids
    acct = sl.ids.accounts[sl.account]
    agent = BROWSERS[int(rng.integers(0, len(BROWSERS)))]
    role_arn = ids.sso_role_arn(person)
    session_arn = ids.session_arn(sl.account, person.role, person.name)
    session_id = f"{person.role_id}:{person.name}"
    saml = f"arn:aws:iam::{sl.account_uid}:saml-provider/{acct.saml_provider}"
    sl.add(
        CtRecord(
            start,
            "auth",
            "sts.amazonaws.com",
            "AssumeRoleWithSAML",
            Identity(
                "SAMLUser",
                name=person.name,
                principal_id=f"{acct.saml_provider}:{person.name}",
                idp=acct.saml_provider,
            ),
            ip,
            agent,
            target=Target(role_arn, None, person.name),
            request={"roleArn": role_arn, "principalArn": saml, "durationSeconds": "43200"},
            response={
                "assumedRoleUser.arn": session_arn,
                "assumedRoleUser.assumedRoleId": session_id,
            },
            label=label,
        )
    )
    identity = Identity(
        "AssumedRole",
        name=person.name,
        arn=session_arn,
        principal_id=session_id,
        account_uid=sl.account_uid,
        credential_uid=_key(rng, "ASIA"),
        session_issuer=role_arn,
        session_created=start,
        session_mfa=False,
    )
    sl.add(
        CtRecord(
            start + 2_000,
            "auth",
            "signin.amazonaws.com",
            "ConsoleLogin",
            identity,
            ip,
            agent,
            event_type="AwsConsoleSignIn",
            target=Target(session_arn, session_id),
            mfa=False,
            console=True,
            response={"ConsoleLogin": "Success"},
            extra={"LoginTo": CONSOLE_URL, "MobileVersion": "No", "MFAUsed": "No"},
            label=label,
        )
    )
    calls = RECON_CALLS if hostile else CONSOLE_READS
    n = int(rng.integers(5, 20)) if hostile else 2 + int(rng.poisson(10))
    for t in sl.times(start + 5_000, n):
        service, op, activity = calls[int(rng.integers(0, len(calls)))]
        if not hostile and rng.random() < (0.08 if person.admin else 0.03):
            service, op, activity = CONSOLE_WRITES[int(rng.integers(0, len(CONSOLE_WRITES)))]
        sl.add(CtRecord(int(t), "api", service, op, identity, ip, agent, activity, label=label))
    if person.admin and not hostile and rng.random() < 0.1:
        iam_change(sl, identity, int(start + HOUR_MS // 2), ip, agent)


def iam_change(sl: CtSlice, actor: Identity, at: int, ip: str, agent: str) -> None:
    """An administrator's change to an IAM user (Account Change)."""
    rng = sl.rng
    op, activity = IAM_CHANGES[int(rng.integers(0, len(IAM_CHANGES)))]
    name = f"contractor-{int(rng.integers(1, 40)):02d}"
    arn = f"arn:aws:iam::{sl.account_uid}:user/{name}"
    request = {"userName": name}
    if "Policy" in op:
        request["policyArn"] = READ_ONLY_POLICY
    sl.add(
        CtRecord(
            at,
            "account",
            "iam.amazonaws.com",
            op,
            actor,
            ip,
            agent,
            activity,
            target=Target(arn, _key(rng, "AIDA"), name),
            request=request,
        )
    )


def console_user_session(sl: CtSlice, user: IamUser, start: int, ip: str, label: int = -1) -> None:
    """An IAM user's console sign-in (with MFA: after its check), then some reads."""
    rng, arn = sl.rng, sl.ids.user_arn(user)
    agent = BROWSERS[int(rng.integers(0, len(BROWSERS)))]
    if not user.mfa and rng.random() < 0.1:  # a mistyped password first
        failed_sign_in(sl, user, start - 30_000, ip, agent)
    if user.mfa:
        sl.add(
            CtRecord(
                start - 5_000,
                "auth",
                "signin.amazonaws.com",
                "CheckMfa",
                Identity("IAMUser", user.name, None, user.user_id, sl.account_uid, ""),
                ip,
                agent,
                activity_id=99,
                event_type="AwsConsoleSignIn",
                target=Target(None, user.user_id),
                console=True,
                response={"CheckMfa": "Success"},
                extra={"MfaType": "U2F MFA"},
                label=label,
            )
        )
    identity = Identity(
        "IAMUser", user.name, arn, user.user_id, sl.account_uid, session_mfa=user.mfa
    )
    extra = {"LoginTo": CONSOLE_URL, "MobileVersion": "No", "MFAUsed": "Yes" if user.mfa else "No"}
    if user.mfa:
        extra["MFAIdentifier"] = f"arn:aws:iam::{sl.account_uid}:u2f/user/{user.name}/default"
    sl.add(
        CtRecord(
            start,
            "auth",
            "signin.amazonaws.com",
            "ConsoleLogin",
            identity,
            ip,
            agent,
            event_type="AwsConsoleSignIn",
            target=Target(arn, user.user_id),
            mfa=user.mfa,
            console=True,
            response={"ConsoleLogin": "Success"},
            extra=extra,
            label=label,
        )
    )
    caller = Identity(
        "IAMUser",
        user.name,
        arn,
        user.user_id,
        sl.account_uid,
        _key(rng, "ASIA"),
        session_created=start,
        session_mfa=user.mfa,
    )
    for t in sl.times(start + 5_000, 2 + int(rng.poisson(6))):
        service, op, activity = CONSOLE_READS[int(rng.integers(0, len(CONSOLE_READS)))]
        sl.add(CtRecord(int(t), "api", service, op, caller, ip, agent, activity))
    if not user.mfa and rng.random() < 0.05:
        iam_change(sl, caller, start + 20 * 60_000, ip, agent)


def failed_sign_in(
    sl: CtSlice, user: IamUser, at: int, ip: str, agent: str, label: int = -1
) -> None:
    """A console sign-in that failed: CloudTrail names the user without its ARN."""
    sl.add(
        CtRecord(
            at,
            "auth",
            "signin.amazonaws.com",
            "ConsoleLogin",
            Identity("IAMUser", user.name, None, user.user_id, sl.account_uid, ""),
            ip,
            agent,
            event_type="AwsConsoleSignIn",
            target=Target(None, user.user_id),
            success=False,
            message="Failed authentication",
            mfa=user.mfa,
            console=True,
            response={"ConsoleLogin": "Failure"},
            extra={"LoginTo": CONSOLE_URL, "MobileVersion": "No", "MFAUsed": "No"},
            label=label,
        )
    )


def job_run(
    sl: CtSlice, user: IamUser, start: int, ip: str, label: int = -1, hostile: bool = False
) -> None:
    """The reporting job: its user's access key assumes the read-only role, which reads; from
    a new address, the key also calls on its own."""
    rng, ids = sl.rng, sl.ids
    assert user.job_role and user.job_role_id
    role_arn = ids.role_arn(sl.account, user.job_role)
    key_user = Identity(
        "IAMUser", user.name, ids.user_arn(user), user.user_id, sl.account_uid, user.access_key
    )
    agent = ATTACKER_AGENTS[int(rng.integers(0, len(ATTACKER_AGENTS)))] if hostile else BOTO
    session = "reporting-job"
    session_arn = ids.session_arn(sl.account, user.job_role, session)
    sl.add(
        CtRecord(
            start,
            "auth",
            "sts.amazonaws.com",
            "AssumeRole",
            key_user,
            ip,
            agent,
            target=Target(role_arn, None, session),
            request={"roleArn": role_arn, "roleSessionName": session},
            response={
                "assumedRoleUser.arn": session_arn,
                "assumedRoleUser.assumedRoleId": f"{user.job_role_id}:{session}",
            },
            resources=[(role_arn, "AWS::IAM::Role")],
            label=label,
        )
    )
    if hostile:
        for t in sl.times(start + 3_000, int(rng.integers(5, 16)), 20 * 60_000):
            service, op, activity = RECON_CALLS[int(rng.integers(0, len(RECON_CALLS)))]
            sl.add(CtRecord(int(t), "api", service, op, key_user, ip, agent, activity, label=label))
        return
    role = _session(sl, user.job_role, user.job_role_id, session, start)
    for t in sl.times(start + 2_000, int(rng.integers(2, 6)), 60_000):
        service, op, activity = JOB_CALLS[int(rng.integers(0, len(JOB_CALLS)))]
        sl.add(CtRecord(int(t), "api", service, op, role, ip, agent, activity))


def ci_run(sl: CtSlice, role: CiRole, start: int, ip: str, label: int = -1) -> None:
    """A CI job: a GitHub token exchanged for the role's session, then the job's calls."""
    rng, ids = sl.rng, sl.ids
    role_arn = ids.role_arn(sl.account, role.name)
    provider = f"arn:aws:iam::{sl.account_uid}:oidc-provider/token.actions.githubusercontent.com"
    subject = f"repo:{role.repo}:ref:refs/heads/main"
    session = "GitHubActions"
    sl.add(
        CtRecord(
            start,
            "auth",
            "sts.amazonaws.com",
            "AssumeRoleWithWebIdentity",
            Identity(
                "WebIdentityUser",
                name=subject,
                principal_id=f"{provider}:sts.amazonaws.com:{subject}",
                idp="token.actions.githubusercontent.com",
            ),
            ip,
            GITHUB_AGENT,
            target=Target(role_arn, None, session),
            request={"roleArn": role_arn, "roleSessionName": session},
            response={
                "assumedRoleUser.arn": ids.session_arn(sl.account, role.name, session),
                "assumedRoleUser.assumedRoleId": f"{role.role_id}:{session}",
                "provider": provider,
                "subjectFromWebIdentityToken": subject,
            },
            resources=[(role_arn, "AWS::IAM::Role")],
            label=label,
        )
    )
    caller = _session(sl, role.name, role.role_id, session, start)
    terraform = role.name.startswith("terraform")
    calls, agent = (TERRAFORM_CALLS, TERRAFORM) if terraform else (DEPLOY_CALLS, CLI)
    for t in sl.times(start + 3_000, int(rng.integers(8, 30)), 15 * 60_000):
        service, op, activity = calls[int(rng.integers(0, len(calls)))]
        sl.add(CtRecord(int(t), "api", service, op, caller, ip, agent, activity, label=label))
    if terraform and label < 0 and rng.random() < 0.2:
        target = f"arn:aws:iam::{sl.account_uid}:role/app-task-role"
        sl.add(
            CtRecord(
                start + 10 * 60_000,
                "account",
                "iam.amazonaws.com",
                "AttachRolePolicy",
                caller,
                ip,
                agent,
                7,
                target=Target(target, _key(rng, "AROA"), "app-task-role"),
                request={"roleName": "app-task-role", "policyArn": READ_ONLY_POLICY},
            )
        )


def instance_credentials(sl: CtSlice, instance: Instance, at: int) -> None:
    """EC2 assuming the instance's role for it: an AWS service calls, with no address."""
    ids = sl.ids
    role = ids.accounts[sl.account].service_roles[instance.service]
    role_arn = ids.role_arn(sl.account, role.name)
    sl.add(
        CtRecord(
            at,
            "auth",
            "sts.amazonaws.com",
            "AssumeRole",
            Identity("AWSService", invoked_by="ec2.amazonaws.com"),
            None,
            "ec2.amazonaws.com",
            domain="ec2.amazonaws.com",
            target=Target(role_arn, None, sl.uid(instance)),
            request={"roleArn": role_arn, "roleSessionName": sl.uid(instance)},
            resources=[(role_arn, "AWS::IAM::Role")],
        )
    )


def instance_calls(sl: CtSlice, n: int) -> None:
    """The instances' SDK calls as their role's sessions, from their private addresses through
    the account's VPC endpoint."""
    if n <= 0:
        return
    rng, ids = sl.rng, sl.ids
    acct = ids.accounts[sl.account]
    instances = [sl.world.instances[j] for j in sl.world.accounts[sl.account].instances]
    sessions: dict[int, Identity] = {}  # one set of credentials per instance and slice
    which = rng.integers(0, len(instances), n)
    calls = rng.integers(0, len(INSTANCE_CALLS), n)
    times = rng.integers(sl.t0, sl.t1, n)
    for k, c, at in zip(which, calls, times, strict=True):
        inst = instances[int(k)]
        if inst.index not in sessions:
            role = acct.service_roles[inst.service]
            sessions[inst.index] = _session(sl, role.name, role.role_id, sl.uid(inst), sl.t0)
        service, op, activity = INSTANCE_CALLS[int(c)]
        sl.add(
            CtRecord(
                int(at),
                "api",
                service,
                op,
                sessions[inst.index],
                inst.ip,
                GO_SDK,
                activity,
                vpce=acct.vpce,
            )
        )


def config_calls(sl: CtSlice, n: int) -> None:
    """AWS Config recording the account's resources: a service's calls, with no address."""
    caller = Identity(
        "AssumedRole",
        arn=sl.ids.session_arn(sl.account, "AWSServiceRoleForConfig", "AWSConfig-Describe"),
        principal_id="AROAAWSCONFIGSERVICE:AWSConfig-Describe",
        account_uid=sl.account_uid,
        invoked_by="config.amazonaws.com",
        session_issuer=sl.ids.role_arn(
            sl.account, "AWSServiceRoleForConfig", "aws-service-role/config.amazonaws.com/"
        ),
    )
    for _ in range(n):
        service, op, activity = CONFIG_CALLS[int(sl.rng.integers(0, len(CONFIG_CALLS)))]
        at = int(sl.rng.integers(sl.t0, sl.t1))
        sl.add(
            CtRecord(
                at,
                "api",
                service,
                op,
                caller,
                None,
                "config.amazonaws.com",
                activity,
                domain="config.amazonaws.com",
            )
        )


def autoscaling(sl: CtSlice, replaced: list[tuple[Instance, str, str]], at: int) -> None:
    """Auto Scaling replacing instances at midnight: ``(instance, old id, new id)``."""
    caller = Identity(
        "AssumedRole",
        arn=sl.ids.session_arn(sl.account, "AWSServiceRoleForAutoScaling", "AutoScaling"),
        principal_id="AROAAUTOSCALINGSERVICE:AutoScaling",
        account_uid=sl.account_uid,
        invoked_by="autoscaling.amazonaws.com",
    )
    region = sl.world.region
    for k, (inst, old, new) in enumerate(replaced):
        for op, activity, uid in (("RunInstances", 1, new), ("TerminateInstances", 4, old)):
            arn = f"arn:aws:ec2:{region}:{sl.account_uid}:instance/{uid}"
            sl.add(
                CtRecord(
                    at + 60_000 * k + (0 if activity == 1 else 120_000),
                    "api",
                    "ec2.amazonaws.com",
                    op,
                    caller,
                    None,
                    "autoscaling.amazonaws.com",
                    activity,
                    domain="autoscaling.amazonaws.com",
                    resources=[(arn, "AWS::EC2::Instance")],
                    request={"instanceId": uid, "subnetId": inst.subnet_uid},
                )
            )


def _session(sl: CtSlice, role: str, role_id: str, session: str, created: int) -> Identity:
    return Identity(
        "AssumedRole",
        name=None,
        arn=sl.ids.session_arn(sl.account, role, session),
        principal_id=f"{role_id}:{session}",
        account_uid=sl.account_uid,
        credential_uid=_key(sl.rng, "ASIA"),
        session_issuer=sl.ids.role_arn(sl.account, role),
        session_created=created,
        session_mfa=False,
    )


def _key(rng: np.random.Generator, prefix: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return prefix + "".join(alphabet[int(i)] for i in rng.integers(0, 32, 16))


# anomalies -----------------------------------------------------------------------------------

Injector = Callable[[CtSlice, Event, int, str], None]
_HOSTILE = ranges(HOSTILE_RANGES)


def hostile_address(rng: np.random.Generator) -> str:
    return str(ipaddress.IPv4Address(int(au.random_in_ranges(rng, _HOSTILE, 1)[0])))


def inject(sl: CtSlice, event: Event) -> None:
    """Write ``event`` into the slice from a fresh hostile address, starting at least an hour
    before the slice ends."""
    start = int(sl.rng.integers(sl.t0, max(sl.t0 + 1, sl.t1 - HOUR_MS)))
    INJECTORS[event.kind](sl, event, start, hostile_address(sl.rng))


def signin_new_network(sl: CtSlice, event: Event, start: int, ip: str) -> None:
    acct = sl.ids.accounts[sl.account]
    person = acct.people[int(sl.rng.integers(0, len(acct.people)))]
    label = sl.label(event, SSO_PREFIX + person.name.lower(), ip)
    person_session(sl, person, start, ip, label=label, hostile=True)


def access_key_new_address(sl: CtSlice, event: Event, start: int, ip: str) -> None:
    user = next(u for u in sl.ids.accounts[sl.account].users if u.job_role)
    label = sl.label(event, sl.ids.user_arn(user), ip)
    job_run(sl, user, start, ip, label=label, hostile=True)


def role_new_range(sl: CtSlice, event: Event, start: int, ip: str) -> None:
    roles = sl.ids.accounts[sl.account].ci_roles
    role = roles[int(sl.rng.integers(0, len(roles)))]
    label = sl.label(event, sl.ids.role_arn(sl.account, role.name), ip)
    ci_run(sl, role, start, ip, label=label)


def signin_failures(sl: CtSlice, event: Event, start: int, ip: str) -> None:
    users = [u for u in sl.ids.accounts[sl.account].users if u.console]
    user = users[int(sl.rng.integers(0, len(users)))]
    label = sl.label(event, sl.ids.user_arn(user), ip)
    agent = ATTACKER_AGENTS[0]
    for t in sl.times(start, int(sl.rng.integers(10, 41)), int(sl.rng.integers(3, 15)) * 60_000):
        failed_sign_in(sl, user, int(t), ip, agent, label=label)


INJECTORS: dict[str, Injector] = {
    "signin_new_network": signin_new_network,
    "access_key_new_address": access_key_new_address,
    "role_new_range": role_new_range,
    "signin_failures": signin_failures,
}
assert tuple(INJECTORS) == SIGNIN_KINDS, "every sign-in kind has one writer"


def write_slice(
    sl: CtSlice, sessions: list[Session], budget: int, events: list[Event], config: int
) -> None:
    """The slice's planned sessions, AWS Config's calls, its events, and instance calls up to
    ``budget`` records."""
    for session in sessions:
        render(sl, session)
    config_calls(sl, config)
    for event in events:
        inject(sl, event)
    instance_calls(sl, budget - len(sl.records))
