"""Prefect flows wiring the pipeline stages."""
