"""Who a CloudTrail sign-in is by: its principal, one string per identity in both versions.

The rule, here as pure functions in the bottom layer so that the synthetic lake's ground truth
(``--truth``'s ``entity``) and the extract's ``signin`` view (``include/sql/views/signin.sql``
and its Python twin ``extract.signin``) name a principal the same way. The entity is the
principal whose credentials were presented from the address:

- IAM user: ``arn:<partition>:iam::<account>:user/<name>``, any path dropped (names are unique
  in an account); a failed console sign-in carries no ARN, only the account and the user name,
  from which the ARN is rebuilt in partition ``aws``. The name CloudTrail gives an unknown user,
  ``HIDDEN_DUE_TO_SECURITY_REASONS``, names nobody.
- root: ``arn:<partition>:iam::<account>:root`` (rebuilt likewise).
- role session: ``arn:aws:sts::A:assumed-role/ROLE/SESSION`` -> ``arn:aws:iam::A:role/ROLE``:
  every session of a role is the role (a session ARN carries no role path, so a role's path is
  dropped wherever a role ARN is read).
- SSO person: a session of an IAM Identity Center role (``AWSReservedSSO_<set>_<hash>``) ->
  ``sso:<session name, lower-cased>``: Identity Center names the session after the user's
  Identity Center user name, so a person is one entity across every account and permission set.
- federated user: ``arn:aws:sts::A:federated-user/NAME`` as it is.
- SAML and web-identity callers (``AssumeRoleWithSAML``, ``AssumeRoleWithWebIdentity``) have no
  AWS identity of their own: the principal is the session they obtain, the assumed role (1.0
  ``user.uuid``, 2.0 ``user.uid``) with its session name (``user.name``), normalised as above
  (a CI role assumed with a GitHub token is the role; an SSO sign-in's SAML step the person).
- anything else (``AWSService``, ``AWSAccount``, an ARN of no shape above): no principal.

Where the fields sit differs by source version (1.0 = OCSF 1.0.0-rc.2: ``actor.user.uuid`` is
the ARN, ``actor.user.uid`` the principal id, the account ``actor.user.account_uid``; 2.0 =
OCSF 1.1.0: ``actor.user.uid`` is the ARN, ``uid_alt`` the principal id, the account
``actor.user.account.uid``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

SSO_PREFIX = "sso:"
SSO_ROLE = "AWSReservedSSO_"  # IAM Identity Center's roles: AWSReservedSSO_<set>_<hash>
HIDDEN_USER = "HIDDEN_DUE_TO_SECURITY_REASONS"  # CloudTrail's name for an unknown user name
FEDERATED_CALLERS = ("SAMLUser", "WebIdentityUser")
# where each source version keeps what the rule reads: the actor's ARN and account, and the
# role a SAML or web-identity caller assumed
FIELDS = {
    "1.0": {"arn": "actor.user.uuid", "account": "actor.user.account_uid", "target": "user.uuid"},
    "2.0": {
        "arn": "actor.user.uid",
        "account": "actor.user.account.uid",
        "target": "user.uid",
    },
}

_P = r"arn:aws[a-z-]*"
_ROOT = re.compile(_P + r":iam::[0-9]{12}:root")
_USER = re.compile(_P + r":iam::[0-9]{12}:user/([^/:]+/)*[^/:]+")
_SSO_SESSION = re.compile(_P + r":sts::[0-9]{12}:assumed-role/" + SSO_ROLE + r"[^/:]+/[^/:]+")
_SESSION = re.compile(_P + r":sts::[0-9]{12}:assumed-role/[^/:]+/[^/:]+")
_FEDERATED = re.compile(_P + r":sts::[0-9]{12}:federated-user/[^/:]+")
_ROLE = re.compile(_P + r":iam::[0-9]{12}:role/")  # a prefix: any path and name follow
_ACCOUNT = re.compile(r"[0-9]{12}")
_LAST = re.compile(r"[^/]+\Z")


def principal_mask(entities) -> np.ndarray:
    """``is_principal`` of each entity (a list or an Arrow array of text), computed in Arrow:
    the scorer asks it of an object's every pair, millions, which as Python strings would cost
    their memory and seconds."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = entities if isinstance(entities, pa.Array | pa.ChunkedArray) else pa.array(entities)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if len(values) == 0:
        return np.zeros(0, bool)
    if pa.types.is_dictionary(values.type):  # the scorer's entity column: ask each name once
        names = principal_mask(values.dictionary)
        codes = pc.fill_null(values.indices, 0).to_numpy(zero_copy_only=False)
        valid = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), bool)
        return names[codes] & valid if names.size else np.zeros(len(values), bool)
    hits = pc.or_(pc.starts_with(values, "arn:"), pc.starts_with(values, SSO_PREFIX))
    return np.asarray(pc.fill_null(hits, False).to_numpy(zero_copy_only=False), bool)


def is_principal(entity: str) -> bool:
    """Whether a pair's entity is a principal of the ``signin`` view (an ARN, or
    ``sso:<user>``), not an instance: the extract's CSV names no view, and the two never share
    a form."""
    return entity.startswith(("arn:", SSO_PREFIX))


def field(record: Mapping[str, Any], path: str) -> Any:
    """``record``'s value at a dotted path (None where any step is missing)."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def normalise(arn: str | None) -> str | None:
    """A principal's ARN as its entity, or None for a shape that names no principal.

    >>> normalise("arn:aws:sts::111122223333:assumed-role/ci-deploy/run-42")
    'arn:aws:iam::111122223333:role/ci-deploy'
    >>> normalise("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_A_0a1b/Ana@Example.com")
    'sso:ana@example.com'
    >>> normalise("arn:aws:iam::111122223333:user/staff/anaya")
    'arn:aws:iam::111122223333:user/anaya'
    >>> normalise("arn:aws:iam::111122223333:role/ci-deploy") is None  # a role is not an actor
    True
    """
    if arn is None:
        return None
    parts = arn.split(":")
    if _ROOT.fullmatch(arn) or _FEDERATED.fullmatch(arn):
        return arn
    if _USER.fullmatch(arn):
        return f"arn:{parts[1]}:iam::{parts[4]}:user/{arn.rsplit('/', 1)[1]}"
    if _SSO_SESSION.fullmatch(arn):
        return SSO_PREFIX + arn.rsplit("/", 1)[1].lower()
    if _SESSION.fullmatch(arn):
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{parts[5].split('/')[1]}"
    return None


def principal_arn(record: Mapping[str, Any], version: str) -> str | None:
    """The ARN ``normalise`` reads for a record: the actor's; for a SAML or web-identity
    caller the session it obtained (the assumed role's name and the session name); for an IAM
    user or root without one (a failed console sign-in), rebuilt from the account and name."""
    fields = FIELDS[version]
    kind = field(record, "actor.user.type")
    if kind in FEDERATED_CALLERS:
        target = field(record, fields["target"])
        session = field(record, "user.name")
        if target is None or not _ROLE.match(target) or session is None:
            return None
        last = _LAST.search(target)
        if last is None:
            return None
        parts = target.split(":")
        return f"arn:{parts[1]}:sts::{parts[4]}:assumed-role/{last.group()}/{session}"
    arn = field(record, fields["arn"])
    if arn:
        return arn
    account = field(record, fields["account"])
    if account is None or not _ACCOUNT.fullmatch(account):
        return None
    name = field(record, "actor.user.name")
    if kind == "IAMUser" and name is not None and name != HIDDEN_USER:
        return f"arn:aws:iam::{account}:user/{name}"
    if kind == "Root":
        return f"arn:aws:iam::{account}:root"
    return None


def principal(record: Mapping[str, Any], version: str) -> str | None:
    """The record's principal, normalised (the rule above); None where it names none.
    ``version``: the Security Lake source version, ``1.0`` or ``2.0``."""
    if version not in FIELDS:
        raise ValueError(f"source version must be 1.0 or 2.0, not {version!r}")
    return normalise(principal_arn(record, version))
