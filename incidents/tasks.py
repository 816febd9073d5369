from celery import shared_task

from . import services


@shared_task
def run_import(import_id: int) -> None:
    services.import_run(import_id=import_id)


@shared_task
def requeue_stale_imports() -> None:
    services.import_requeue_stale()
