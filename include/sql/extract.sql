{#- The pairs to export: the kept statuses, each marked train or validation. -#}
SELECT entity, ip, view, split
FROM ({% include "classified.sql" %}) AS classified
WHERE status IN ({% for s in keep %}'{{ s }}'{% if not loop.last %}, {% endif %}{% endfor %})
