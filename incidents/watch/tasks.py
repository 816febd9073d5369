"""Celery tasks of the watch: thin, by id, idempotent, each claiming its work with a conditional UPDATE."""

from __future__ import annotations

from celery import shared_task

from . import services, services_alerts


@shared_task(name="incidents.watch.tasks.count_batch", time_limit=120, soft_time_limit=100)
def count_batch(batch_id: int) -> None:
    services.batch_count(batch_id=batch_id)


@shared_task(name="incidents.watch.tasks.notify_alert", time_limit=60, soft_time_limit=50)
def notify_alert(alert_id: int) -> None:
    services_alerts.alert_notify(alert_id=alert_id)


@shared_task(name="incidents.watch.tasks.refresh_alert_ledger", time_limit=300, soft_time_limit=280)
def refresh_alert_ledger(alert_id: int) -> None:
    services_alerts.alert_ledger_refresh(alert_id=alert_id)


# Periodic (config/celery.py's beat schedule)


@shared_task(name="incidents.watch.tasks.refresh_ledgers", time_limit=600, soft_time_limit=580)
def refresh_ledgers() -> None:
    services_alerts.ledgers_refresh()


@shared_task(name="incidents.watch.tasks.flush_minutes", time_limit=120, soft_time_limit=100)
def flush_minutes() -> None:
    services.minutes_flush()


@shared_task(name="incidents.watch.tasks.recover", time_limit=120, soft_time_limit=100)
def recover() -> None:
    services.batches_requeue()
    services_alerts.alerts_recover()
    services_alerts.bursts_close()


@shared_task(name="incidents.watch.tasks.retention", time_limit=3600, soft_time_limit=3500)
def retention() -> None:
    services.events_expire()
