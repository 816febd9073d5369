"""Careful sending: a random pilot then waves while complaints and bounces stay low, each email in daytime or morning.

At start, `deliveries_hold` gives every queued email delivery a wave (1 is the pilot) and the time it may go
(the set start, or the person's local morning; never at night where they live). What may not go yet is HELD,
which no sender claims. Every minute `campaigns_waves_advance` checks each sending campaign's complaint and
hard-bounce rates from the tracking events received (crossing a threshold pauses it with the reason), opens
the next wave once the last one went out and the wait is over, and puts due deliveries back in the queue,
each with a conditional UPDATE so two workers release a row once.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, F, Max, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from apologies.campaigns.lifecycle import campaign_transition
from apologies.campaigns.models import Campaign, CampaignError, Recipient
from apologies.feedback.models import DeliveryEvent
from apologies.sending import zones
from apologies.sending.logs import send_log
from apologies.sending.models import Delivery

log = logging.getLogger(__name__)

NOW, AT, MORNING = "now", "at", "morning"


def is_careful(campaign: Campaign) -> bool:
    return campaign.pilot or campaign.schedule != NOW


def wave_sizes(total: int, *, pilot_percent, wave_percent) -> list[int]:
    """How many people each wave takes: the pilot (at least 1), then waves of `wave_percent` of everyone."""
    if total <= 0:
        return []
    pilot = min(total, max(1, math.ceil(total * float(pilot_percent) / 100)))
    step = max(1, math.ceil(total * float(wave_percent) / 100))
    sizes = [pilot]
    left = total - pilot
    while left > 0:
        sizes.append(min(step, left))
        left -= step
    return sizes


def due_at(campaign: Campaign, contact, now: datetime) -> datetime | None:
    """When this person's email may go; None for at once."""
    if campaign.schedule == NOW:
        return None
    tz = zones.zone_for(
        time_zone=getattr(contact, "time_zone", ""),
        country=getattr(contact, "country", ""),
        fallback=campaign.time_zone,
    )
    base = max(campaign.send_at or now, now)
    when = zones.next_morning(base, tz) if campaign.schedule == MORNING else zones.next_daytime(base, tz)
    return None if when <= now else when


def deliveries_hold(*, campaign: Campaign, now: datetime | None = None) -> dict:
    """Assign waves and hours to the campaign's queued emails (in the start's transaction); returns a summary."""
    if not is_careful(campaign):
        return {}
    now = now or timezone.now()
    rows = list(
        campaign.deliveries.filter(channel=Recipient.Channel.EMAIL, status=Delivery.Status.QUEUED)
        .select_related("recipient__contact")
        .only("id", "recipient__contact__time_zone", "recipient__contact__country")
    )
    waves = [1] * len(rows)
    if campaign.pilot:
        secrets.SystemRandom().shuffle(rows)
        sizes = wave_sizes(len(rows), pilot_percent=campaign.pilot_percent, wave_percent=campaign.wave_percent)
        waves = [n for n, size in enumerate(sizes, start=1) for _ in range(size)]
    groups: dict[tuple[int, datetime | None], list[int]] = defaultdict(list)
    for d, wave in zip(rows, waves, strict=True):
        groups[(wave, due_at(campaign, d.recipient.contact, now))].append(d.id)
    held = 0
    for (wave, when), ids in groups.items():
        status = Delivery.Status.QUEUED if wave == 1 and when is None else Delivery.Status.HELD
        for start in range(0, len(ids), 5000):
            Delivery.objects.filter(id__in=ids[start : start + 5000], status=Delivery.Status.QUEUED).update(
                status=status, wave=wave, next_attempt_at=when
            )
        held += len(ids) if status == Delivery.Status.HELD else 0
    Campaign.objects.filter(id=campaign.id).update(wave_released=1, wave_released_at=now)
    campaign.wave_released, campaign.wave_released_at = 1, now
    return {"waves": max(waves, default=0), "held": held, "now": len(rows) - held}


def rates(*, campaign: Campaign) -> dict:
    """Complaints and hard bounces per email sent, from the tracking events received so far (percent)."""
    sent = campaign.deliveries.filter(channel=Recipient.Channel.EMAIL, status=Delivery.Status.SENT).count()
    events = DeliveryEvent.objects.filter(delivery__campaign=campaign)
    complained = events.filter(person_state="complained").values("delivery_id").distinct().count()
    bounced = events.filter(person_state="bounced").values("delivery_id").distinct().count()

    def pct(n: int) -> float:
        return round(100 * n / sent, 3) if sent else 0.0

    return {
        "sent": sent,
        "complaints": complained,
        "bounces": bounced,
        "complaint_percent": pct(complained),
        "bounce_percent": pct(bounced),
    }


def threshold_crossed(campaign: Campaign, r: dict) -> str:
    """The reason to pause, in words, or ""."""
    if r["sent"] and r["complaint_percent"] >= float(campaign.max_complaint_percent):
        return (
            f"Complaints reached {r['complaint_percent']}% ({r['complaints']} of {r['sent']} sent; "
            f"the limit is under {campaign.max_complaint_percent}%). Later waves wait: raise the limit "
            f"(an approver approves the change) or cancel."
        )
    if r["sent"] and r["bounce_percent"] >= float(campaign.max_bounce_percent):
        return (
            f"Hard bounces reached {r['bounce_percent']}% ({r['bounces']} of {r['sent']} sent; "
            f"the limit is under {campaign.max_bounce_percent}%). Later waves wait: raise the limit "
            f"(an approver approves the change) or cancel."
        )
    return ""


def open_rows(campaign: Campaign):
    return campaign.deliveries.filter(channel=Recipient.Channel.EMAIL)


def next_wave_due(campaign: Campaign) -> datetime | None:
    """When the next wave may open: the wait after the released waves' last email; None while they still send."""
    released = open_rows(campaign).filter(wave__lte=campaign.wave_released)
    if released.filter(status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING, Delivery.Status.HELD]).exists():
        return None
    last = released.aggregate(last=Max("sent_at"))["last"] or campaign.wave_released_at or timezone.now()
    return last + timedelta(minutes=campaign.wave_wait_minutes)


def waves_advance(*, campaign: Campaign, now: datetime | None = None) -> int:
    """One step for one sending campaign: check the rates, open a wave when due, queue due rows; returns queued."""
    now = now or timezone.now()
    if campaign.status != Campaign.Status.SENDING:
        return 0
    if campaign.pilot:
        reason = threshold_crossed(campaign, rates(campaign=campaign))
        if reason:
            campaign.paused_reason = reason[:500]
            try:
                campaign_transition(campaign, Campaign.Status.PAUSED, None, "paused by the wave limits", reason)
            except CampaignError:
                return 0
            send_log(logging.WARNING, "paused_wave_limits", campaign=campaign, reason=repr(reason))
            return 0
        waiting = open_rows(campaign).filter(status=Delivery.Status.HELD, wave__gt=campaign.wave_released)
        due = next_wave_due(campaign) if waiting.exists() else None
        if due is not None and due <= now:
            opened = Campaign.objects.filter(id=campaign.id, wave_released=campaign.wave_released).update(
                wave_released=F("wave_released") + 1, wave_released_at=now
            )
            if opened:
                campaign.refresh_from_db(fields=["wave_released", "wave_released_at"])
                send_log(logging.INFO, "wave_opened", campaign=campaign, wave=campaign.wave_released)
    ready = (
        open_rows(campaign)
        .filter(status=Delivery.Status.HELD)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    )
    if campaign.pilot:
        ready = ready.filter(wave__lte=campaign.wave_released)
    return ready.update(status=Delivery.Status.QUEUED, next_attempt_at=None)


def campaigns_waves_advance(*, now: datetime | None = None) -> list[int]:
    """`waves_advance` for every sending campaign that waits for something; the ids that got queued rows."""
    waiting = (
        Delivery.objects.filter(status=Delivery.Status.HELD, campaign__status=Campaign.Status.SENDING)
        .values_list("campaign_id", flat=True)
        .distinct()
    )
    moved = []
    for campaign in Campaign.objects.filter(id__in=list(waiting)).select_related("incident"):
        with transaction.atomic():
            if waves_advance(campaign=campaign, now=now):
                moved.append(campaign.id)
    return moved


def held_summary(*, campaign: Campaign) -> list[dict]:
    """What waits, by wave and by the hour (UTC) it may go: the progress page's table."""
    rows = (
        open_rows(campaign)
        .filter(status=Delivery.Status.HELD)
        .annotate(hour=TruncHour("next_attempt_at"))
        .values("wave", "hour")
        .annotate(n=Count("id"))
        .order_by("wave", "hour")
    )
    out = []
    for row in rows:
        wave, hour = row["wave"], row["hour"]
        if campaign.pilot and wave > campaign.wave_released:
            why = f"wave {wave}: opens when the waves before it went out, the wait is over and the rates are low"
        else:
            why = "the person's morning" if campaign.schedule == MORNING else "the start time, in daytime"
        out.append(
            {
                "wave": wave,
                "hour": hour.isoformat() if hour else None,
                "hour_label": f"{hour:%Y-%m-%d %H:00} UTC" if hour else "when its wave opens",
                "count": row["n"],
                "why": why,
            }
        )
    return out
