"""Celery tasks of incidents: running imports and picking up the ones a killed worker left behind."""

from celery import shared_task
from celery.signals import worker_ready

from . import imports


@shared_task(name="incidents.tasks.run_import")
def run_import(import_id: int) -> None:
    imports.import_run(import_id=import_id)


@shared_task(name="incidents.tasks.requeue_stale_imports")
def requeue_stale_imports() -> None:
    imports.import_requeue_stale()


@worker_ready.connect
def _requeue_on_start(**kwargs) -> None:
    # A worker that was killed mid-import comes back: pick its imports up again.
    requeue_stale_imports.delay()
