{#- An instance and the source of its inbound flows (ENI on dst_endpoint). The entity is
    marked '/in' so an instance's clients and its own destinations stay separate entities. -#}
{% from "_macros.sql" import interval, ingress_entity, ingress_rows, flow_split_key, no_sign_in with context %}
SELECT {{ ingress_entity() }} AS entity,
       src_endpoint.ip AS ip,
       'ingress_peer' AS view,
       {{ flow_split_key() }} AS split_key,
       "time" AS event_time, {{ no_sign_in() }}
FROM {{ vpc_table }}
WHERE {{ interval() }}
  AND {{ ingress_rows() }}
