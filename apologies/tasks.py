import time

from celery import shared_task
from celery.signals import worker_ready
from django.db import transaction

from . import services

EAGER_WAIT_SECONDS = 30


@shared_task(bind=True)
def send_batch(self, campaign_id: int) -> str:
    """One batch, then the next: a chain per sender that ends when the campaign stops or is done."""
    if self.request.is_eager:
        return _send_in_place(campaign_id)
    result = services.campaign_send_batch(campaign_id=campaign_id)
    if result == "more":
        transaction.on_commit(lambda: send_batch.delay(campaign_id))
    elif result == "waiting":
        # Retries with a backoff, or another worker's batch in flight: look again shortly.
        send_batch.apply_async((campaign_id,), countdown=1)
    return result


def _send_in_place(campaign_id: int) -> str:
    # Without a worker (tests, eager mode) a chain of tasks would recurse: loop instead.
    deadline = time.monotonic() + EAGER_WAIT_SECONDS
    while True:
        result = services.campaign_send_batch(campaign_id=campaign_id)
        if result == "waiting" and time.monotonic() < deadline:
            time.sleep(0.05)
        elif result != "more":
            return result


@shared_task
def resume_stalled_campaigns() -> int:
    return services.campaigns_resume_stalled()


@worker_ready.connect
def _resume_on_start(**kwargs) -> None:
    resume_stalled_campaigns.delay()


@shared_task
def apply_tracking_event(event_id: int) -> bool:
    return services.tracking_apply(event_id=event_id)


# Letters


@shared_task
def render_letter_batch(batch_id: int) -> str:
    from . import letters

    return letters.batch_render(batch_id=batch_id)


@shared_task
def requeue_letter_batches() -> int:
    from . import letters

    return letters.batches_requeue_stale()


@worker_ready.connect
def _letters_on_start(**kwargs) -> None:
    from . import letters

    letters.fonts_warn()
    requeue_letter_batches.delay()
