"""Real-time scoring: Security Lake notifications in, OCSF Detection Findings out.

The Lambda handler (include/lambda/ipcheck/app.py) and the local runtime that emulates Lambda's
SQS event source mapping both call this package, so they behave the same.
"""
