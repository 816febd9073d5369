"""Celery tasks of letters: render one batch or one preview, and pick up batches whose worker died."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready

from apologies.letters import checks
from apologies.letters import services as letter_batches
from apologies.letters import services_previews as previews
from apologies.letters.collector import few_collections


# Named as before the rooms were drawn, so messages already queued in the broker still find them.
@shared_task(name="apologies.tasks.render_letter_batch", soft_time_limit=1740, time_limit=1800)
def render_letter_batch(batch_id: int) -> str:
    # The whole batch, not only its layout: the manifest and ZIP are made while every page is still in memory.
    with few_collections(collect_after=True):
        return letter_batches.batch_render(batch_id=batch_id)


# A preview is one letter: a minute is far more than a good one needs, and the limit is what keeps a bad one
# (a body that lays out forever) from holding a worker. Keep in step with services_previews.RENDER_SECONDS.
@shared_task(name="apologies.tasks.render_letter_preview", soft_time_limit=60, time_limit=75)
def render_letter_preview(preview_id: int) -> str:
    try:
        return previews.letter_preview_render(preview_id=preview_id)
    except SoftTimeLimitExceeded:
        return previews.preview_fail(preview_id=preview_id, reason="Drawing the letter took longer than 60 seconds.")


@shared_task(name="apologies.tasks.requeue_letter_batches", time_limit=300)
def requeue_letter_batches() -> int:
    return letter_batches.batches_requeue_stale()


@worker_ready.connect
def letters_on_start(**kwargs) -> None:
    checks.fonts_warn()
    requeue_letter_batches.delay()
