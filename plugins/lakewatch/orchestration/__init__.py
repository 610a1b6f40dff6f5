"""Airflow glue: the only lakewatch modules that import Airflow.

DAG files only wire: each task calls one function of its DAG's ``*_tasks`` module here, which
gets the task's settings and AWS clients (``runtime``) and calls plain lakewatch modules that
know nothing of Airflow (``tests/dags/test_integrity.py`` holds the DAG files to that).
"""
