"""Serving: endpoints (SageMaker, or lakewatch's local router and model servers), the runtime
client that scores pairs through them, and the deploy smoke check."""
