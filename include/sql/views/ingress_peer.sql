{#- An instance and the source of its inbound flows (ENI on dst_endpoint). The entity is
    marked '/in' so an instance's clients and its own destinations stay separate entities. -#}
{% from "_macros.sql" import interval, instance with context %}
SELECT CASE WHEN dst_endpoint.instance_uid = '-' THEN '-'
            ELSE dst_endpoint.instance_uid || '/in' END AS entity,
       src_endpoint.ip AS ip,
       'ingress_peer' AS view,
       "time" + 7 * coalesce(src_endpoint.port, 0) + 13 * coalesce(dst_endpoint.port, 0)
           AS split_key,
       "time" AS event_time
FROM {{ vpc_table }}
WHERE {{ interval() }}
  AND connection_info.direction_id = 1
  AND {{ instance("dst_endpoint.instance_uid") }}
  AND src_endpoint.ip IS NOT NULL
