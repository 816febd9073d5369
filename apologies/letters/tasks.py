"""Celery tasks of letters: render one batch, and pick up batches whose worker died."""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready

from apologies.letters import checks, layout
from apologies.letters import services as letter_batches


# Named as before the rooms were drawn, so messages already queued in the broker still find them.
@shared_task(name="apologies.tasks.render_letter_batch", soft_time_limit=1740, time_limit=1800)
def render_letter_batch(batch_id: int) -> str:
    # The whole batch, not only its layout: the manifest and ZIP are made while every page is still in memory.
    with layout.few_collections():
        return letter_batches.batch_render(batch_id=batch_id)


@shared_task(name="apologies.tasks.requeue_letter_batches", time_limit=300)
def requeue_letter_batches() -> int:
    return letter_batches.batches_requeue_stale()


@worker_ready.connect
def letters_on_start(**kwargs) -> None:
    checks.fonts_warn()
    requeue_letter_batches.delay()
