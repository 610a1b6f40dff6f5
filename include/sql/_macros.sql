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
