{#- Every candidate pair with its status and its split: the held-out validation split is a
    deterministic tenth of the rows (from the event time and ports). -#}
SELECT entity, ip, view, status, event_time,
       CASE WHEN mod(split_key, 10) = 0 THEN 'validation' ELSE 'train' END AS split
FROM ({% include "pairs.sql" %}) AS pairs
