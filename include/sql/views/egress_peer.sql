{#- An instance and the destination of its outbound flows (ENI on src_endpoint). -#}
{% from "_macros.sql" import interval, instance with context %}
SELECT src_endpoint.instance_uid AS entity, dst_endpoint.ip AS ip, 'egress_peer' AS view,
       "time" + 7 * coalesce(src_endpoint.port, 0) + 13 * coalesce(dst_endpoint.port, 0)
           AS split_key,
       "time" AS event_time
FROM {{ vpc_table }}
WHERE {{ interval() }}
  AND connection_info.direction_id = 2
  AND {{ instance("src_endpoint.instance_uid") }}
  AND dst_endpoint.ip IS NOT NULL
