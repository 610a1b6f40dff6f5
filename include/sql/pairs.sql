{#- Every candidate pair of the chosen views, classified: ok (IPv4), ipv6, dash ('-'),
    malformed, or the status the view gave a record it makes no pair of (views/signin.sql:
    unknown_version, no_address, service, unknown_actor). Callers select the statuses they
    keep and count the rest. -#}
WITH raw AS (
{% for scan in scans %}
{% include "views/" ~ scan ~ ".sql" %}
{% if not loop.last %}
UNION ALL
{% endif %}
{% endfor %}
)
SELECT entity, ip, view, split_key, event_time, outcome, is_mfa,
       CASE
           WHEN view_status IS NOT NULL THEN view_status
           WHEN entity = '-' OR ip = '-' OR entity = '' OR ip = '' THEN 'dash'
           WHEN regexp_like(ip, '^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])([.](25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$') THEN 'ok'
           WHEN strpos(ip, ':') > 0 THEN 'ipv6'
           ELSE 'malformed'
       END AS status
FROM raw
