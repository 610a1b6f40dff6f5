{#- An instance and every A/AAAA address Route 53 answered to its queries. -#}
{% from "_macros.sql" import interval, instance, no_sign_in with context %}
SELECT src_endpoint.instance_uid AS entity, answer.ip AS ip, 'dns_answer' AS view,
       "time" + 7 * coalesce(src_endpoint.port, 0) AS split_key,
       "time" AS event_time, {{ no_sign_in() }}
FROM {{ dns_table }}
CROSS JOIN UNNEST(
    transform(filter(answers, a -> a.type IN ('A', 'AAAA')), a -> a.rdata)
) AS answer(ip)
WHERE {{ interval() }}
  AND {{ instance("src_endpoint.instance_uid") }}
