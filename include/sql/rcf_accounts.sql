{#- Each instance's account in the interval, for the hourly RCF step (scoring.rcf_hourly):
    the lake partition (accountid: the account whose object holds the record, as the
    real-time scorer takes it from an object's key) of the VPC Flow records its own
    interfaces logged and of its Route 53 queries, the rows rcf_features.sql counts. An
    instance logged under two accounts (a shared VPC) takes the lowest. -#}
{% from "_macros.sql" import interval with context %}
SELECT instance, min(account_id) AS account_id
FROM (
    SELECT CASE WHEN connection_info.direction_id = 2 THEN src_endpoint.instance_uid
                ELSE dst_endpoint.instance_uid END AS instance,
           accountid AS account_id
    FROM {{ vpc_table }}
    WHERE {{ interval() }}
      AND connection_info.direction_id IN (1, 2)
    UNION ALL
    SELECT src_endpoint.instance_uid AS instance, accountid AS account_id
    FROM {{ dns_table }}
    WHERE {{ interval() }}
) AS logged
WHERE instance IS NOT NULL AND instance NOT IN ('-', '')
GROUP BY instance
