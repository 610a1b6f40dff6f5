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

{#- The flow views' pieces, shared by each view's own template and by flow_peers.sql, which
    reads both directions in one scan. Outbound: the ENI is on src_endpoint; inbound: on
    dst_endpoint, its entity marked '/in' so an instance's clients and its own destinations
    stay separate entities. -#}
{% macro egress_entity() -%}
src_endpoint.instance_uid
{%- endmacro %}

{% macro ingress_entity() -%}
CASE WHEN dst_endpoint.instance_uid = '-' THEN '-'
            ELSE dst_endpoint.instance_uid || '/in' END
{%- endmacro %}

{% macro egress_rows() -%}
connection_info.direction_id = 2
  AND {{ instance("src_endpoint.instance_uid") }}
  AND dst_endpoint.ip IS NOT NULL
{%- endmacro %}

{% macro ingress_rows() -%}
connection_info.direction_id = 1
  AND {{ instance("dst_endpoint.instance_uid") }}
  AND src_endpoint.ip IS NOT NULL
{%- endmacro %}

{#- The columns every view yields beside entity, ip, view, split_key and event_time: a sign-in's
    outcome and is_mfa (for the findings, never the model), and view_status, a status the view
    itself gives a record that makes no pair (views/signin.sql); NULL for the network views,
    whose records pairs.sql classifies by their address alone. -#}
{% macro no_sign_in() -%}
CAST(NULL AS VARCHAR) AS outcome, CAST(NULL AS BOOLEAN) AS is_mfa,
       CAST(NULL AS VARCHAR) AS view_status
{%- endmacro %}

{% macro flow_split_key() -%}
"time" + 7 * coalesce(src_endpoint.port, 0) + 13 * coalesce(dst_endpoint.port, 0)
{%- endmacro %}
