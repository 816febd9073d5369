"""Celery tasks of incidents: running imports and picking up the ones a killed worker left behind."""

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from . import imports


# The limit is generous (a 10,000,000-event log takes minutes); it exists so a file that never ends cannot hold a
# worker for ever. Past it the import is failed with the reason (imports.import_run), and nothing is kept.
@shared_task(
    name="incidents.tasks.run_import",
    soft_time_limit=settings.IMPORT_TIME_LIMIT_SECONDS,
    time_limit=settings.IMPORT_TIME_LIMIT_SECONDS + 60,
)
def run_import(import_id: int) -> None:
    imports.import_run(import_id=import_id)


@shared_task(name="incidents.tasks.requeue_stale_imports", time_limit=300)
def requeue_stale_imports() -> None:
    imports.import_requeue_stale()


@worker_ready.connect
def _requeue_on_start(**kwargs) -> None:
    # A worker that was killed mid-import comes back: pick its imports up again.
    requeue_stale_imports.delay()
