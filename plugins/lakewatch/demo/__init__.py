"""``make demo``: the main job on the local backend, on a real Airflow, with a report."""
