"""Celery tasks of provider letters: hand one letter over (retried with a backoff), pick up stalled handovers."""

from __future__ import annotations

from celery import shared_task

from apologies.letters.providers import services


@shared_task(bind=True, name="apologies.tasks.send_provider_letter", soft_time_limit=120, time_limit=180)
def send_provider_letter(self, delivery_id: int) -> str:
    result = services.provider_letter_send(delivery_id=delivery_id)
    if result == "retry" and not self.request.is_eager:
        send_provider_letter.apply_async((delivery_id,), countdown=min(600, 30 * 2**self.request.retries))
    return result


@shared_task(name="apologies.tasks.requeue_provider_letters", time_limit=120)
def requeue_provider_letters() -> int:
    stale = services.provider_letters_requeue_stale()
    for delivery_id in stale:
        send_provider_letter.delay(delivery_id)
    return len(stale)
