{#- An instance and the destination of its outbound flows (ENI on src_endpoint). -#}
{% from "_macros.sql" import interval, egress_entity, egress_rows, flow_split_key, no_sign_in with context %}
SELECT {{ egress_entity() }} AS entity, dst_endpoint.ip AS ip, 'egress_peer' AS view,
       {{ flow_split_key() }} AS split_key,
       "time" AS event_time, {{ no_sign_in() }}
FROM {{ vpc_table }}
WHERE {{ interval() }}
  AND {{ egress_rows() }}
