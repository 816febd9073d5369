"""Celery tasks of the privacy room: the daily retention run."""

from celery import shared_task

from .retention import retention_run


@shared_task(name="apologies.privacy.tasks.retention", time_limit=3600, soft_time_limit=3500, ignore_result=True)
def retention() -> None:
    """Idempotent: a second run finds nothing left past its age."""
    retention_run()
