"""Training: the window of daily extracts a model learns from, and SageMaker job configs."""
