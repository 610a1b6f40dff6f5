# The lakewatch Airflow image: the official Airflow 3 image plus lakewatch's pinned requirements.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:0 requirements.txt /requirements.txt
# torch: the CPU wheel is enough for the local backend; the aws backend trains on SageMaker.
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu \
      -r /requirements.txt
COPY --chown=airflow:0 pyproject.toml README.md /opt/lakewatch/
COPY --chown=airflow:0 plugins /opt/lakewatch/plugins
RUN pip install --no-cache-dir --no-deps -e /opt/lakewatch
