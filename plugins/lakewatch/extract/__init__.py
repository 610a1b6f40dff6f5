"""Extract (entity, address) pairs from Security Lake with the SQL in include/sql/."""
