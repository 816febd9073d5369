"""Celery task of feedback: apply one stored tracking event to its delivery and the suppression list."""

from __future__ import annotations

from celery import shared_task

from apologies.feedback import services as feedback


# Named as before the rooms were drawn, so messages already queued in the broker still find it.
@shared_task(name="apologies.tasks.apply_tracking_event", time_limit=120)
def apply_tracking_event(event_id: int) -> bool:
    return feedback.tracking_apply(event_id=event_id)
