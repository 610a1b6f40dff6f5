"""AWS plumbing shared by both backends: client factories and S3 helpers."""
