from celery import shared_task
from celery.signals import worker_ready

from . import services


@shared_task
def run_import(import_id: int) -> None:
    services.import_run(import_id=import_id)


@shared_task
def requeue_stale_imports() -> None:
    services.import_requeue_stale()


@worker_ready.connect
def _requeue_on_start(**kwargs) -> None:
    # A worker that was killed mid-import comes back: pick its imports up again.
    requeue_stale_imports.delay()
