"""Airflow glue: the only lakewatch modules that import Airflow.

DAG files wire tasks; each task gets its settings and AWS clients from here and calls plain
lakewatch modules that know nothing of Airflow.
"""
