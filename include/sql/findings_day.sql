{#- One day's lakewatch findings, one flat row each: what `lakewatch findings export` writes.
    The table is `lakewatch_findings` of docs/operate.md#findings-in-athena (Parquet under the
    findings prefix, partitioned by region, accountid and eventday). -#}
SELECT finding_info.uid AS uid,
       severity_id,
       severity,
       unmapped['lakewatch.kind'] AS kind,
       finding_info.title AS title,
       array_join(transform(resources, r -> r.uid), ',') AS instances,
       array_join(
         transform(filter(observables, o -> o.type = 'IP Address'), o -> o.value), ','
       ) AS addresses,
       unmapped['lakewatch.view'] AS view,
       TRY_CAST(unmapped['lakewatch.score'] AS DOUBLE) AS score,
       TRY_CAST(unmapped['lakewatch.threshold'] AS DOUBLE) AS threshold,
       unmapped['lakewatch.model_id'] AS model_id,
       unmapped['lakewatch.source_object'] AS source_object,
       start_time,
       count
FROM {{ database }}.{{ table }}
WHERE eventday = '{{ day }}'
ORDER BY severity_id DESC, uid, source_object
