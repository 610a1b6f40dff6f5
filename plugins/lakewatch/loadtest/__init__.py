"""``lakewatch loadtest``: notifications at a steady rate through the local backend's real-time
path (the scorer's zip in its sandbox under the local SQS event source mapping), the queue's
backlog sampled meanwhile, and every notification accounted for: scored or dead-lettered.

``stack.py`` builds the private stack it runs on (its own emulator, model server and scorer
runtime, on loopback only); ``run.py`` sends, samples, drains and accounts; ``report.py``
writes ``summary.json`` and ``report.html`` with the backlog over time.
"""
