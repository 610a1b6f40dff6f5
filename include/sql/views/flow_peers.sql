{#- egress_peer and ingress_peer in one scan of the VPC Flow table, for a pair set with both:
    the same rows as their UNION ALL, reading (and on Athena, paying for) the table once. -#}
{% from "_macros.sql" import interval, egress_entity, ingress_entity, egress_rows, ingress_rows, flow_split_key, no_sign_in with context %}
SELECT CASE WHEN connection_info.direction_id = 2 THEN {{ egress_entity() }}
            ELSE {{ ingress_entity() }} END AS entity,
       CASE WHEN connection_info.direction_id = 2 THEN dst_endpoint.ip
            ELSE src_endpoint.ip END AS ip,
       CASE WHEN connection_info.direction_id = 2 THEN 'egress_peer'
            ELSE 'ingress_peer' END AS view,
       {{ flow_split_key() }} AS split_key,
       "time" AS event_time, {{ no_sign_in() }}
FROM {{ vpc_table }}
WHERE {{ interval() }}
  AND (({{ egress_rows() }}) OR ({{ ingress_rows() }}))
