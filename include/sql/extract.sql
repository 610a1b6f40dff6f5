{#- The pairs to export, each marked for the training or the held-out validation split
    (a deterministic tenth of the rows, from the event time and ports). -#}
SELECT entity, ip, view,
       CASE WHEN mod(split_key, 10) = 0 THEN 'validation' ELSE 'train' END AS split
FROM ({% include "pairs.sql" %}) AS pairs
WHERE status IN ({% for s in keep %}'{{ s }}'{% if not loop.last %}, {% endif %}{% endfor %})
