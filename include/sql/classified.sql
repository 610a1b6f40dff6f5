{#- Every candidate pair with its status and its split: the held-out validation split is a
    deterministic tenth of the rows (from the event time and ports). A sign-in's outcome and
    is_mfa come along for the findings (NULL for the network views); the export drops them. -#}
SELECT entity, ip, view, status, event_time,
       CASE WHEN mod(split_key, 10) = 0 THEN 'validation' ELSE 'train' END AS split,
       outcome, is_mfa
FROM ({% include "pairs.sql" %}) AS pairs
