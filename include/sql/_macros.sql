{#- Shared pieces of the pair views (Athena / Trino SQL, rendered with Jinja). -#}

{#- Partition pruning for the data interval [start, end):
    1.0 tables are partitioned by eventday (YYYYMMDD); 2.0 tables by time_dt. -#}
{% macro interval() -%}
{%- if source_version == "1.0" -%}
eventday BETWEEN '{{ start_day }}' AND '{{ end_day }}'
    AND "time" >= {{ start_ms }} AND "time" < {{ end_ms }}
{%- else -%}
time_dt >= TIMESTAMP '{{ start_ts }}' AND time_dt < TIMESTAMP '{{ end_ts }}'
{%- endif -%}
{%- endmacro %}

{#- An ENI-side instance id is present. '-' (NAT, Lambda, Fargate ENIs) is kept here and
    counted as dropped by pairs.sql. -#}
{% macro instance(col) -%}
{{ col }} IS NOT NULL
{%- endmacro %}

{#- The flow was initiated on this side, not an answer to the other side's connection.
    VPC Flow Logs record both directions and OR the TCP flags seen in the aggregation window:
    the responder's record carries SYN-ACK (18), the initiator's SYN (2). A response flow's
    peer is already the other direction's pair; counting it again makes every S3 or API
    address an instance reaches look like an unusual inbound client. Without flags (UDP,
    a long flow's later windows), a flow from a well-known port to an ephemeral one is an
    answer. -#}
{% macro initiated() -%}
bitwise_and(coalesce(connection_info.tcp_flags, 0), 18) <> 18
    AND NOT (bitwise_and(coalesce(connection_info.tcp_flags, 0), 2) = 0
             AND coalesce(src_endpoint.port, 0) BETWEEN 1 AND 1023
             AND coalesce(dst_endpoint.port, 0) >= 32768)
{%- endmacro %}
