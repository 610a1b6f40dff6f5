{#- Random Cut Forest features: one row per instance and UTC hour of the interval, the raw
    aggregates lakewatch.extract.rcf_features scales (each column's definition is there, in
    FEATURES; the port classes and protocol groups are rendered from it). Rendered by
    rcf_features.sql(ctx), which gives port_classes, classed_ports, protocols,
    grouped_protocols, flow_columns and with_dns (false: no Route 53 table read, its columns 0).

    A flow is the instance's whose interface logged it: outbound (direction_id 2) the
    instance on src_endpoint, inbound (1) on dst_endpoint; no instance ('-', NAT gateways,
    Lambda, Fargate) or no direction (NODATA, 99), no row. The row's subnet is that
    interface's subnet_uid (the instance's group, which a new instance is measured against;
    NULL when no flow names one). A Route 53 query is the instance's
    on src_endpoint.instance_uid; an hour of queries and no flows is a row with no flows.
    Every count is a BIGINT (DuckDB's count_if and sum would otherwise be HUGEINT).
    Denied: 2.0 (OCSF 1.1.0) action_id 2 (Denied); 1.0 (OCSF 1.0.0-rc.2) has no action,
    its disposition_id 2 (Blocked) is the same verdict. -#}
{% from "_macros.sql" import interval with context %}
{% set denied = "action_id = 2" if source_version == "2.0" else "disposition_id = 2" %}
WITH flows AS (
    SELECT CASE WHEN connection_info.direction_id = 2 THEN src_endpoint.instance_uid
                ELSE dst_endpoint.instance_uid END AS instance,
           CASE WHEN connection_info.direction_id = 2 THEN src_endpoint.subnet_uid
                ELSE dst_endpoint.subnet_uid END AS subnet,
           connection_info.direction_id AS direction,
           CASE WHEN connection_info.direction_id = 2 THEN dst_endpoint.ip
                ELSE src_endpoint.ip END AS peer,
           dst_endpoint.port AS port,
           connection_info.protocol_num AS protocol,
           coalesce(traffic.bytes, 0) AS nbytes,
           coalesce(traffic.packets, 0) AS npackets,
           coalesce({{ denied }}, false) AS is_denied,
           "time" - "time" % 3600000 AS hour_start
    FROM {{ vpc_table }}
    WHERE {{ interval() }}
      AND ((connection_info.direction_id = 2
            AND src_endpoint.instance_uid IS NOT NULL
            AND src_endpoint.instance_uid NOT IN ('-', ''))
           OR (connection_info.direction_id = 1
               AND dst_endpoint.instance_uid IS NOT NULL
               AND dst_endpoint.instance_uid NOT IN ('-', '')))
),
flow_hours AS (
    SELECT instance, hour_start,
           max(CASE WHEN subnet NOT IN ('-', '') THEN subnet END) AS subnet,
           count_if(direction = 1) AS flows_in,
           count_if(direction = 2) AS flows_out,
           sum(CASE WHEN direction = 1 THEN nbytes ELSE 0 END) AS bytes_in,
           sum(CASE WHEN direction = 2 THEN nbytes ELSE 0 END) AS bytes_out,
           sum(npackets) AS packets,
{% for name, ports in port_classes %}
           count_if(port IN ({{ ports | join(", ") }})) AS port_{{ name }},
{% endfor %}
           count_if(port BETWEEN 1 AND 1023 AND port NOT IN ({{ classed_ports | join(", ") }}))
               AS port_other_low,
           count_if(port >= 1024 AND port NOT IN ({{ classed_ports | join(", ") }})) AS port_high,
           count(DISTINCT port) AS dst_ports,
           count(DISTINCT CASE WHEN peer NOT IN ('-', '') THEN peer END) AS peers,
           count_if(is_denied) AS denied,
{% for name, nums in protocols %}
           count_if(protocol IN ({{ nums | join(", ") }})) AS {{ name }},
{% endfor %}
           count_if(protocol IS NULL OR protocol NOT IN ({{ grouped_protocols | join(", ") }}))
               AS other_proto
    FROM flows
    GROUP BY instance, hour_start
){% if with_dns %},
dns_hours AS (
    SELECT src_endpoint.instance_uid AS instance,
           "time" - "time" % 3600000 AS hour_start,
           count(*) AS dns_queries,
           count(DISTINCT query.hostname) AS dns_domains
    FROM {{ dns_table }}
    WHERE {{ interval() }}
      AND src_endpoint.instance_uid IS NOT NULL
      AND src_endpoint.instance_uid NOT IN ('-', '')
    GROUP BY src_endpoint.instance_uid, "time" - "time" % 3600000
){% endif %}

{% set key = "coalesce(f.{0}, d.{0})" if with_dns else "f.{0}" %}
SELECT {{ key.format("instance") }} AS instance,
       {{ key.format("hour_start") }} AS hour_start,
       CAST(({{ key.format("hour_start") }} % 86400000) / 3600000 AS INTEGER) AS hour_of_day,
{% for column in flow_columns %}
       CAST({{ "coalesce(f." ~ column ~ ", 0)" if with_dns else column }} AS BIGINT) AS {{ column }},
{% endfor %}
{% if with_dns %}
       CAST(coalesce(d.dns_queries, 0) AS BIGINT) AS dns_queries,
       CAST(coalesce(d.dns_domains, 0) AS BIGINT) AS dns_domains,
       f.subnet AS subnet
FROM flow_hours AS f
FULL OUTER JOIN dns_hours AS d
    ON f.instance = d.instance AND f.hour_start = d.hour_start
{% else %}
       CAST(0 AS BIGINT) AS dns_queries,
       CAST(0 AS BIGINT) AS dns_domains,
       subnet
FROM flow_hours AS f
{% endif %}
ORDER BY instance, hour_start
