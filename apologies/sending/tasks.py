"""Celery tasks of sending: one batch at a time per sender chain, and the recovery of stalled campaigns."""

from __future__ import annotations

import time

from celery import shared_task
from celery.signals import worker_ready
from django.db import transaction

from apologies.campaigns.models import Campaign
from apologies.sending import services as sending
from apologies.sending import waves

EAGER_WAIT_SECONDS = 30


# Named as before the rooms were drawn, so messages already queued in the broker still find them.
@shared_task(bind=True, name="apologies.tasks.send_batch", soft_time_limit=240, time_limit=300)
def send_batch(self, campaign_id: int) -> str:
    """One batch, then the next: a chain per sender that ends when the campaign stops or is done."""
    if self.request.is_eager:
        return send_in_place(campaign_id)
    result = sending.campaign_send_batch(campaign_id=campaign_id)
    if result == "more":
        transaction.on_commit(lambda: send_batch.delay(campaign_id))
    elif result == "waiting":
        # Retries with a backoff, or another worker's batch in flight: look again shortly.
        send_batch.apply_async((campaign_id,), countdown=1)
    return result


def send_in_place(campaign_id: int) -> str:
    """Without a worker (tests, eager mode) a chain of tasks would recurse: loop instead."""
    deadline = time.monotonic() + EAGER_WAIT_SECONDS
    while True:
        result = sending.campaign_send_batch(campaign_id=campaign_id)
        if result == "waiting" and time.monotonic() < deadline:
            time.sleep(0.05)
        elif result != "more":
            return result


@shared_task(name="apologies.tasks.advance_waves", time_limit=120)
def advance_waves() -> int:
    """Every minute: pause on high complaint or bounce rates, open due waves, queue due hours, start senders."""
    moved = waves.campaigns_waves_advance()
    for campaign in Campaign.objects.filter(id__in=moved):
        with transaction.atomic():
            sending.senders_enqueue(campaign=campaign)
    return len(moved)


@shared_task(name="apologies.tasks.resume_stalled_campaigns", time_limit=300)
def resume_stalled_campaigns() -> int:
    return sending.campaigns_resume_stalled()


@worker_ready.connect
def resume_on_start(**kwargs) -> None:
    resume_stalled_campaigns.delay()
