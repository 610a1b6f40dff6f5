{#- The original blog's pairs: each instance with its own source address, from the VPC Flow
    and Route 53 tables, nulls and '-' filtered, unioned. -#}
{% from "_macros.sql" import interval, instance, no_sign_in with context %}
SELECT src_endpoint.instance_uid AS entity, src_endpoint.ip AS ip, 'seed' AS view,
       "time" + 7 * coalesce(src_endpoint.port, 0) + 13 * coalesce(dst_endpoint.port, 0)
           AS split_key,
       "time" AS event_time, {{ no_sign_in() }}
FROM {{ vpc_table }}
WHERE {{ interval() }}
  AND {{ instance("src_endpoint.instance_uid") }}
  AND src_endpoint.ip IS NOT NULL
UNION ALL
SELECT src_endpoint.instance_uid AS entity, src_endpoint.ip AS ip, 'seed' AS view,
       "time" + 7 * coalesce(src_endpoint.port, 0) AS split_key,
       "time" AS event_time, {{ no_sign_in() }}
FROM {{ dns_table }}
WHERE {{ interval() }}
  AND {{ instance("src_endpoint.instance_uid") }}
  AND src_endpoint.ip IS NOT NULL
