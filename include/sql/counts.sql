{#- Rows and distinct entities per view and status, for the task log and the Asset. -#}
SELECT view, status, count(*) AS "rows", count(DISTINCT entity) AS entities
FROM ({% include "pairs.sql" %}) AS pairs
GROUP BY view, status
