"""When lakewatch's DAGs run on the clock: UTC cron expressions, one place for the DAG files
(and for whoever needs to know when a run comes).

The trainers have no ``start_date``: unpaused for the first time, a DAG with one and
``catchup=False`` runs its latest missed time at once, and a trainer's run trains on the
window ending at its own day. From midnight to 03:00 (03:30) that run is yesterday's, a day
short of the extracts there are: ``make demo`` run then trained on five of its six quiet days,
and its figures and end-to-end test changed with the hour. Without one, the first run waits
for the next time or new extracts (the ``lakewatch_training_pairs`` Asset), or is triggered.
``FIRST_RUN`` is its ``run_immediately``: 0, for Airflow's ``False`` still runs a missed time
that is at most a tenth of the day old.
"""

from __future__ import annotations

from datetime import timedelta

EXTRACT = "0 0 * * *"  # yesterday's extract, once the day has closed
TRAIN = "0 3 * * *"  # IP Insights on the window before the run's day (or on new extracts)
RCF_TRAIN = "30 3 * * *"
RECALIBRATE = "0 5 * * *"  # or when a model is deployed
RCF_RECALIBRATE = "30 5 * * *"
SCORER_CHECK = "15 * * * *"
RCF_SCORE = "20 * * * *"  # the closed hour

# a trainer's run_immediately: never the missed time (False: one up to 2.4 hours old)
FIRST_RUN = timedelta(0)
