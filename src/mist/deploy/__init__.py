"""Deploying: the queue and its workers, the pipeline and its stages, the event bus, log storage."""
