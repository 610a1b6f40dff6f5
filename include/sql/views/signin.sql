{#- signin: a principal and the address it signed in from, one row per CloudTrail
    Authentication (3002) record of the interval: console sign-ins (ConsoleLogin), their MFA
    checks (CheckMfa) and role assumptions (AssumeRole, AssumeRoleWithSAML,
    AssumeRoleWithWebIdentity). The CLOUD_TRAIL_MGMT table's other classes (API Activity 6003,
    Account Change 3001) are not read. Its Python twin is lakewatch.lake.principals (the
    entity, the rule the synthetic lake's ground truth names principals by) with
    lakewatch.extract.signin (the rest), held to it by tests/extract/test_signin.py: change
    them together.

    entity, the principal whose credentials were presented from the address, normalised so
    one principal is one string in both source versions (1.0 / OCSF 1.0.0-rc.2:
    actor.user.uuid is the ARN, actor.user.uid the principal id; 2.0 / OCSF 1.1.0:
    actor.user.uid is the ARN, uid_alt the principal id):
      IAM user       arn:<partition>:iam::<account>:user/<name>   (any path dropped: names are
                     unique in an account, and a failed console sign-in carries no ARN, only
                     the account and user name, from which the ARN is rebuilt in partition aws;
                     the user name CloudTrail hides for an unknown user,
                     HIDDEN_DUE_TO_SECURITY_REASONS, names nobody)
      root           arn:<partition>:iam::<account>:root          (rebuilt likewise)
      role session   arn:aws:sts::A:assumed-role/ROLE/SESSION -> arn:aws:iam::A:role/ROLE
                     (every session of a role is the role; a session ARN carries no role
                     path, so the role's path is dropped wherever a role ARN is read)
      SSO person     a session of an IAM Identity Center role (AWSReservedSSO_<set>_<hash>)
                     -> sso:<session name, lower-cased>: Identity Center names the session after
                     the user's Identity Center user name, so the person is one entity across
                     every account and permission set they sign in to, and their usual
                     networks are theirs, not a role's
      federated user arn:aws:sts::A:federated-user/NAME kept as it is
      SAML / web-identity callers (AssumeRoleWithSAML, AssumeRoleWithWebIdentity) have no AWS
                     identity of their own: the principal is the session they obtain, the
                     assumed role (1.0 user.uuid, 2.0 user.uid) with its session name
                     (user.name), normalised as above
      anything else  (AWSService, AWSAccount, Unknown, an ARN of no shape above) no entity.

    ip: src_endpoint.ip; where it is empty, src_endpoint.domain, which holds the service's name
    when an AWS service made the call (and then src_endpoint.ip is empty).

    view_status: why a record gives no pair, in this order (pairs.sql classifies the rest):
      unknown_version  metadata.version is not the OCSF version of the table's source version
                       (1.0.x in 1.0, 1.1.x in 2.0), whose actor fields this file reads
      no_address       neither an address nor a service name
      service          the "address" is a name (letters and no ':'): an AWS service calling
                       ('ec2.amazonaws.com', 'AWS Internal')
      unknown_actor    no entity, by the rules above

    outcome ('Success', 'Failure', 'Unknown': status_id, else status) and is_mfa (1.0 mfa,
    2.0 is_mfa; NULL where CloudTrail did not say) ride beside the pair for the findings; the
    model and the training export never see them (extract.sql writes entity and ip only).
    split_key is the record's second plus 7 x its hour of the day: CloudTrail times are whole
    seconds, and a scheduled job acts at the same second of every hour (often a multiple of 10:
    by its second alone all its sign-ins fell in the validation tenth and it was never trained
    on). The hour of the day, not the hours since 1970: a day is 86,400 seconds (0 mod 10) but
    24 hours (7 x 24 = 8 mod 10), so the absolute hour moved every record's split from one
    date to the next and a lake written relative to today (the demo's) was split, trained and
    thresholded anew each day. -#}
{% from "_macros.sql" import interval with context %}
{% if source_version == "1.0" %}
{% set arn, account, target, mfa, ocsf = "actor.user.uuid", "actor.user.account_uid", '"user".uuid', "mfa", "1.0." %}
{% else %}
{% set arn, account, target, mfa, ocsf = "actor.user.uid", "actor.user.account.uid", '"user".uid', "is_mfa", "1.1." %}
{% endif %}
{% set p = "principal" %}
SELECT entity, ip, 'signin' AS view, split_key, event_time, outcome, is_mfa,
       CASE
           WHEN NOT known_version THEN 'unknown_version'
           WHEN ip IS NULL THEN 'no_address'
           WHEN strpos(ip, ':') = 0 AND regexp_like(ip, '[A-Za-z]') THEN 'service'
           WHEN entity IS NULL THEN 'unknown_actor'
       END AS view_status
FROM (
    SELECT CASE
               WHEN regexp_like({{ p }}, '^arn:aws[a-z-]*:iam::[0-9]{12}:root$') THEN {{ p }}
               WHEN regexp_like({{ p }}, '^arn:aws[a-z-]*:iam::[0-9]{12}:user/([^/:]+/)*[^/:]+$')
                   THEN 'arn:' || split_part({{ p }}, ':', 2) || ':iam::'
                        || split_part({{ p }}, ':', 5) || ':user/'
                        || regexp_extract({{ p }}, '[^/]+$')
               WHEN regexp_like({{ p }}, '^arn:aws[a-z-]*:sts::[0-9]{12}:assumed-role/AWSReservedSSO_[^/:]+/[^/:]+$')
                   THEN 'sso:' || lower(regexp_extract({{ p }}, '[^/]+$'))
               WHEN regexp_like({{ p }}, '^arn:aws[a-z-]*:sts::[0-9]{12}:assumed-role/[^/:]+/[^/:]+$')
                   THEN 'arn:' || split_part({{ p }}, ':', 2) || ':iam::'
                        || split_part({{ p }}, ':', 5) || ':role/'
                        || split_part(split_part({{ p }}, ':', 6), '/', 2)
               WHEN regexp_like({{ p }}, '^arn:aws[a-z-]*:sts::[0-9]{12}:federated-user/[^/:]+$')
                   THEN {{ p }}
           END AS entity,
           ip, split_key, event_time, outcome, is_mfa, known_version
    FROM (
        SELECT CASE
                   WHEN actor.user.type IN ('SAMLUser', 'WebIdentityUser') THEN
                       CASE WHEN regexp_like({{ target }}, '^arn:aws[a-z-]*:iam::[0-9]{12}:role/')
                            THEN 'arn:' || split_part({{ target }}, ':', 2) || ':sts::'
                                 || split_part({{ target }}, ':', 5) || ':assumed-role/'
                                 || regexp_extract({{ target }}, '[^/]+$') || '/'
                                 || "user".name
                       END
                   WHEN {{ arn }} <> '' THEN {{ arn }}
                   WHEN actor.user.type = 'IAMUser'
                        AND regexp_like({{ account }}, '^[0-9]{12}$')
                        AND actor.user.name <> 'HIDDEN_DUE_TO_SECURITY_REASONS'
                       THEN 'arn:aws:iam::' || {{ account }} || ':user/' || actor.user.name
                   WHEN actor.user.type = 'Root' AND regexp_like({{ account }}, '^[0-9]{12}$')
                       THEN 'arn:aws:iam::' || {{ account }} || ':root'
               END AS {{ p }},
               coalesce(nullif(src_endpoint.ip, ''), nullif(src_endpoint.domain, '')) AS ip,
               CAST(floor("time" / 1000) AS BIGINT)
                   + 7 * mod(CAST(floor("time" / 3600000) AS BIGINT), 24) AS split_key,
               "time" AS event_time,
               CASE
                   WHEN status_id = 1 THEN 'Success'
                   WHEN status_id = 2 THEN 'Failure'
                   WHEN lower(status) = 'success' THEN 'Success'
                   WHEN lower(status) IN ('failure', 'failed') THEN 'Failure'
                   ELSE 'Unknown'
               END AS outcome,
               {{ mfa }} AS is_mfa,
               coalesce(metadata.version LIKE '{{ ocsf }}%', false) AS known_version
        FROM {{ cloudtrail_table }}
        WHERE {{ interval() }}
          AND class_uid = 3002
    ) AS records
) AS signins
