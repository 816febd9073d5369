"""Sending a campaign exactly once per person: start, claims, batches, pause/resume, reconciliation and progress."""

from __future__ import annotations

import logging
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from apologies.campaigns import fingerprint, lifecycle
from apologies.campaigns.audit import audit_add
from apologies.campaigns.control_models import ControlMember
from apologies.campaigns.lifecycle import campaign_transition
from apologies.campaigns.models import Campaign, CampaignError, Recipient
from apologies.links import site_url_problem
from apologies.privacy import services as privacy
from apologies.sending import esp, tasks, waves
from apologies.sending.logs import send_log
from apologies.sending.models import Delivery
from apologies.sending.ratelimit import RateLimiter
from incidents.contacts import suppressions

log = logging.getLogger(__name__)


def campaign_start(*, campaign: Campaign, user) -> int:
    """Queue every email delivery and start the senders. Refuses a stale approval."""
    if campaign.status != Campaign.Status.APPROVED:
        raise CampaignError(
            f"Only an approved campaign can start; this one is {campaign.get_status_display().lower()}."
        )
    problem = site_url_problem()
    if problem:
        raise CampaignError(f"Sending cannot start: {problem}")
    if campaign.approval_is_stale():
        raise CampaignError(
            f"The approval of {campaign.approved_at:%Y-%m-%d %H:%M} UTC is older than "
            f"{campaign.approval_max_age_hours} h: an approver has to renew it before sending starts."
        )
    changed = lifecycle.campaign_approval_check(campaign=campaign, user=user)
    if changed:
        raise CampaignError(f"Not started: {', '.join(changed)} changed since the approval. It is back in draft.")
    with transaction.atomic():
        queued = deliveries_create(campaign=campaign)
        held = waves.deliveries_hold(campaign=campaign)
        campaign.started_at = timezone.now()
        campaign.paused_reason = ""
        campaign.consecutive_errors = 0
        campaign.save(update_fields=["started_at", "paused_reason", "consecutive_errors"])
        detail = f"{queued} emails queued" + (f"; {held['held']} wait for their wave or hour" if held else "")
        campaign_transition(campaign, Campaign.Status.SENDING, user, "sending started", detail)
        senders_enqueue(campaign=campaign)
    send_log(logging.INFO, "started", campaign=campaign, queued=queued, user=user.get_username() if user else "")
    return queued


def deliveries_create(*, campaign: Campaign) -> int:
    """One delivery row per person and channel; the database refuses a second apology per incident.

    Set-wise, in one INSERT ... SELECT: a million recipients never pass through Python. The control group
    (campaigns.control) gets no apology; a person who already has one for this incident is skipped.
    """
    params = {
        "incident": campaign.incident_id,
        "follow_up": campaign.allow_follow_up,
        "queued": Delivery.Status.QUEUED,
        "campaign": campaign.id,
        "none": Recipient.Channel.NONE,
        "email": Recipient.Channel.EMAIL,
    }
    wanted = (
        f"FROM {Recipient._meta.db_table} r WHERE r.campaign_id = %(campaign)s AND r.channel <> %(none)s "
        f"AND NOT EXISTS (SELECT 1 FROM {ControlMember._meta.db_table} m WHERE m.recipient_id = r.id)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Delivery._meta.db_table} (campaign_id, recipient_id, incident_id, email, channel, "
            "follow_up, wave, status, attempts, claim, esp_message_id, error) "
            "SELECT r.campaign_id, r.id, %(incident)s, r.email, r.channel, %(follow_up)s, 0, %(queued)s, 0, '', '', '' "
            f"{wanted} ORDER BY r.id ON CONFLICT DO NOTHING",
            params,
        )
        cursor.execute(f"SELECT count(*) {wanted} AND r.channel = %(email)s", params)
        emails = cursor.fetchone()[0]
    created = campaign.deliveries.filter(channel=Recipient.Channel.EMAIL).count()
    missing = emails - created
    if missing:
        audit_add(campaign, None, "skipped", f"{missing} people already had an apology for this incident")
    return created


def campaign_pause(*, campaign: Campaign, user, reason: str = "") -> None:
    campaign.paused_reason = reason or f"paused by {user.get_username()}"
    campaign_transition(campaign, Campaign.Status.PAUSED, user, "paused", campaign.paused_reason)
    send_log(logging.WARNING, "paused", campaign=campaign, reason=repr(campaign.paused_reason))


def campaigns_pause_all(*, reason: str, user=None) -> list[int]:
    """Emergency stop: pause every sending campaign; returns their ids. Senders stop before their next batch."""
    paused = []
    for campaign in Campaign.objects.filter(status=Campaign.Status.SENDING).select_related("incident").order_by("id"):
        try:
            campaign.paused_reason = f"paused for every campaign: {reason}"[:500]
            campaign_transition(campaign, Campaign.Status.PAUSED, user, "paused (all campaigns)", reason)
        except CampaignError:
            continue  # it finished or was paused in the meantime
        send_log(logging.WARNING, "paused", campaign=campaign, reason=repr(reason), scope="all")
        paused.append(campaign.id)
    return paused


def campaign_resume(*, campaign: Campaign, user) -> None:
    changed = fingerprint.changed_parts(campaign=campaign, recipients=False)
    if changed:
        what = ", ".join(changed)
        raise CampaignError(f"Changed since the approval: {what}. An approver has to approve the changes first.")
    campaign.paused_reason = ""
    Campaign.objects.filter(id=campaign.id).update(consecutive_errors=0)
    with transaction.atomic():
        campaign_transition(campaign, Campaign.Status.SENDING, user, "resumed")
        senders_enqueue(campaign=campaign)


def senders_enqueue(*, campaign: Campaign) -> None:

    campaign_id = campaign.id
    for _ in range(settings.AMENDS_SENDERS_PER_CAMPAIGN):
        transaction.on_commit(lambda: tasks.send_batch.delay(campaign_id))


def deliveries_claim(*, campaign: Campaign, size: int) -> tuple[str, list[int]]:
    """Take up to `size` queued email deliveries for this worker, committed before any sending."""
    token = secrets.token_hex(8)
    now = timezone.now()
    with transaction.atomic():
        due = (
            Delivery.objects.filter(campaign=campaign, channel=Recipient.Channel.EMAIL, status=Delivery.Status.QUEUED)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("id")
        )
        if connection.vendor == "postgresql":
            ids = list(due.select_for_update(skip_locked=True).values_list("id", flat=True)[:size])
        else:
            ids = list(due.values_list("id", flat=True)[:size])
        if ids:
            # The status condition makes the claim safe even where row locks are not available.
            Delivery.objects.filter(id__in=ids, status=Delivery.Status.QUEUED).update(
                status=Delivery.Status.SENDING, claim=token, claimed_at=now, attempts=F("attempts") + 1
            )
    claimed = list(Delivery.objects.filter(claim=token, status=Delivery.Status.SENDING).values_list("id", flat=True))
    return token, claimed


def campaign_send_batch(*, campaign_id: int) -> str:
    """Send one batch of a campaign. Returns "more", "done", "waiting" or "stopped"."""
    campaign = Campaign.objects.select_related("incident").get(id=campaign_id)
    if campaign.status != Campaign.Status.SENDING:
        return "stopped"
    # Batch after batch, the words must still be the approved ones: an edit in between pauses the campaign.
    if lifecycle.campaign_approval_check(campaign=campaign, recipients=False):
        return "stopped"
    size = max(1, min(esp.batch_size(), campaign.rate_per_second))
    # Our share of the rate first, then the claim: a claimed batch must never sit waiting, or it
    # would look abandoned to the reconciler and go to review unsent.
    limiter = RateLimiter(campaign)
    if not limiter.acquire(size, deadline=time.monotonic() + 10):
        return "more"
    if not _still_sending(campaign_id):
        limiter.give_back(size)
        return "stopped"
    token, ids = deliveries_claim(campaign=campaign, size=size)
    limiter.give_back(size - len(ids))
    if not ids:
        return _finish_if_done(campaign)
    deliveries = list(Delivery.objects.filter(id__in=ids).select_related("recipient", "recipient__contact"))
    # Checked again now, not only when planned: someone may have unsubscribed in the meantime.
    emails = [d.email for d in deliveries]
    blocked = suppressions.suppressed_among(emails) | privacy.erased_among(emails)
    if blocked:
        skipped = [d.id for d in deliveries if d.email in blocked]
        Delivery.objects.filter(id__in=skipped).update(
            status=Delivery.Status.SKIPPED, error="on the suppression list at send time"
        )
        send_log(logging.INFO, "skipped_suppressed", campaign=campaign, delivery_ids=skipped)
        deliveries = [d for d in deliveries if d.email not in blocked]
    if not deliveries:
        return "more"
    pending = {d.id: d for d in deliveries}
    for group, outcome in esp.send_deliveries(campaign=campaign, deliveries=deliveries):
        _record(campaign, group, outcome)
        for d in group:
            pending.pop(d.id, None)
        if pending and not _still_sending(campaign_id):
            # Paused between two API calls: what was not handed over goes back to the queue.
            _release(list(pending.values()))
            return "stopped"
    return "more"


def _still_sending(campaign_id: int) -> bool:
    return Campaign.objects.filter(id=campaign_id, status=Campaign.Status.SENDING).exists()


def _release(deliveries: list[Delivery]) -> None:
    """Claimed but certainly not handed to the ESP: back in the queue."""
    Delivery.objects.filter(id__in=[d.id for d in deliveries], status=Delivery.Status.SENDING).update(
        status=Delivery.Status.QUEUED, claim="", attempts=F("attempts") - 1
    )


def _record(campaign: Campaign, deliveries: list[Delivery], outcome: esp.Outcome) -> None:
    now = timezone.now()
    ids = [d.id for d in deliveries]
    level = logging.INFO if outcome.kind == esp.Outcome.SENT else logging.WARNING
    send_log(level, f"batch_{outcome.kind}", campaign=campaign, delivery_ids=ids, error=repr(outcome.error[:300]))
    if outcome.kind == esp.Outcome.SENT:
        by_message_id: dict[str, list[int]] = {}
        for d in deliveries:
            if d.email in outcome.refused:
                Delivery.objects.filter(id=d.id, status=Delivery.Status.SENDING).update(
                    status=Delivery.Status.FAILED, error=outcome.refused[d.email][:500]
                )
            else:
                by_message_id.setdefault(outcome.message_ids.get(d.email, "")[:255], []).append(d.id)
        # A batch API gives the whole batch one message id: one UPDATE, not one per person.
        for message_id, ids in by_message_id.items():
            Delivery.objects.filter(id__in=ids, status=Delivery.Status.SENDING).update(
                status=Delivery.Status.SENT, sent_at=now, esp_message_id=message_id, error=""
            )
        Campaign.objects.filter(id=campaign.id).update(consecutive_errors=0)
        return
    if outcome.kind == esp.Outcome.RETRY:
        retry = [d for d in deliveries if d.attempts < settings.AMENDS_SEND_MAX_ATTEMPTS]
        for d in retry:
            backoff = min(300, settings.AMENDS_RETRY_BACKOFF_SECONDS * 2 ** (d.attempts - 1))
            Delivery.objects.filter(id=d.id, status=Delivery.Status.SENDING).update(
                status=Delivery.Status.QUEUED,
                claim="",
                next_attempt_at=now + timedelta(seconds=backoff),
                error=outcome.error[:500],
            )
        Delivery.objects.filter(id__in=ids, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.FAILED,
            error=f"gave up after {settings.AMENDS_SEND_MAX_ATTEMPTS} tries: {outcome.error}"[:500],
        )
    elif outcome.kind == esp.Outcome.REVIEW:
        Delivery.objects.filter(id__in=ids, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.REVIEW, error=outcome.error[:500]
        )
    else:
        Delivery.objects.filter(id__in=ids, status=Delivery.Status.SENDING).update(
            status=Delivery.Status.FAILED, error=outcome.error[:500]
        )
    Campaign.objects.filter(id=campaign.id).update(consecutive_errors=F("consecutive_errors") + 1)
    campaign.refresh_from_db(fields=["consecutive_errors", "status"])
    if campaign.consecutive_errors >= campaign.pause_after_errors and campaign.status == Campaign.Status.SENDING:
        reason = (
            f"paused by itself after {campaign.consecutive_errors} failed sends in a row; last error: {outcome.error}"
        )
        campaign.paused_reason = reason[:500]
        send_log(logging.ERROR, "paused_automatically", campaign=campaign, reason=repr(campaign.paused_reason))
        try:
            campaign_transition(campaign, Campaign.Status.PAUSED, None, "paused automatically", campaign.paused_reason)
        except CampaignError:
            pass


def _finish_if_done(campaign: Campaign) -> str:
    open_rows = campaign.deliveries.filter(
        channel=Recipient.Channel.EMAIL, status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING]
    )
    if open_rows.filter(status=Delivery.Status.QUEUED).exists():
        return "waiting"  # retries with a backoff that is not due yet
    if campaign.deliveries.filter(status=Delivery.Status.HELD).exists():
        return "held"  # a later wave or hour: sending.waves queues them and starts the senders again
    if open_rows.exists() and not deliveries_reconcile(campaign=campaign):
        return "waiting"  # another worker's batch is in flight
    try:
        campaign.finished_at = timezone.now()
        Campaign.objects.filter(id=campaign.id).update(finished_at=campaign.finished_at)
        summary = _summary(campaign)
        campaign_transition(campaign, Campaign.Status.COMPLETED, None, "completed", summary)
        send_log(logging.INFO, "completed", campaign=campaign, summary=repr(summary))
    except CampaignError:
        pass
    return "done"


def _summary(campaign: Campaign) -> str:
    counts = dict(
        campaign.deliveries.filter(channel=Recipient.Channel.EMAIL)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def deliveries_reconcile(*, campaign: Campaign | None = None, older_than_seconds: int | None = None) -> int:
    """Deliveries left SENDING by a dead worker: the ESP may or may not have them, so a person checks.

    Never resent blindly: sending again could be the second email this tool exists to prevent.
    """
    if older_than_seconds is None:
        older_than_seconds = settings.AMENDS_SEND_STALE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stuck = Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at__lt=cutoff)
    if campaign is not None:
        stuck = stuck.filter(campaign=campaign)
    return stuck.update(
        status=Delivery.Status.REVIEW,
        error="the worker stopped while sending: check the ESP's log before resending",
    )


def campaigns_resume_stalled() -> int:
    """After a worker restart, keep sending campaigns moving (claims make extra senders harmless)."""
    deliveries_reconcile()
    n = 0
    for campaign in Campaign.objects.filter(status=Campaign.Status.SENDING):
        with transaction.atomic():
            senders_enqueue(campaign=campaign)
        n += 1
    return n


def delivery_resolve(*, delivery: Delivery, sent: bool, user) -> None:
    """A person looked at the ESP's log: the email went out, or it did not and may be queued again."""
    if delivery.status != Delivery.Status.REVIEW:
        raise CampaignError("Only a delivery that needs review can be resolved.")
    if sent:
        Delivery.objects.filter(id=delivery.id, status=Delivery.Status.REVIEW).update(
            status=Delivery.Status.SENT, error=f"marked sent by {user.get_username()}"
        )
    else:
        Delivery.objects.filter(id=delivery.id, status=Delivery.Status.REVIEW).update(
            status=Delivery.Status.QUEUED, claim="", error=f"queued again by {user.get_username()}"
        )
    audit_add(delivery.campaign, user, "review resolved", f"{delivery.email}: {'sent' if sent else 'queued again'}")
    if not sent and delivery.campaign.status == Campaign.Status.SENDING:
        with transaction.atomic():
            senders_enqueue(campaign=delivery.campaign)


def campaign_progress(*, campaign: Campaign) -> dict:
    counts = dict(
        campaign.deliveries.filter(channel=Recipient.Channel.EMAIL)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    total = sum(counts.values())
    done = sum(counts.get(s, 0) for s in ("sent", "failed", "skipped", "review", "cancelled"))
    rate = 0.0
    if campaign.started_at:
        # The measured rate: sends over the last 30 s, or over the time since the start when that is shorter
        # (dividing a 3-second start by 30 s made "71 s left" of a send that finished in 9).
        now = timezone.now()
        since = max(campaign.started_at, now - timedelta(seconds=30))
        elapsed = max((now - since).total_seconds(), 1.0)
        recent = campaign.deliveries.filter(status=Delivery.Status.SENT, sent_at__gte=since).count()
        rate = recent / elapsed
    remaining = counts.get("queued", 0) + counts.get("sending", 0)
    eta = max(1, round(remaining / rate)) if rate and remaining else (0 if not remaining else None)
    return {
        "held": counts.get("held", 0),
        "waiting": waves.held_summary(campaign=campaign) if counts.get("held") else [],
        "status": campaign.status,
        "status_label": campaign.get_status_display(),
        "finished": campaign.status != Campaign.Status.SENDING,
        "percent": int(100 * done / total) if total else 0,
        "total": total,
        "queued": counts.get("queued", 0),
        "sending": counts.get("sending", 0),
        "sent": counts.get("sent", 0),
        "failed": counts.get("failed", 0),
        "skipped": counts.get("skipped", 0),
        "review": counts.get("review", 0),
        "rate": round(rate, 1),
        "eta_seconds": eta,
        "paused_reason": campaign.paused_reason,
    }


def test_send(*, campaign: Campaign, recipient: Recipient, user) -> int:
    """The recipient's apology to the seed list, marked TEST, never counted as an apology."""
    addresses = campaign.seed_addresses()
    if not addresses:
        raise CampaignError("Add staff addresses to the seed list first.")
    esp.send_test(campaign=campaign, recipient=recipient, to=addresses)
    audit_add(campaign, user, "test sent", f"{recipient.email}'s apology to {', '.join(addresses)}")
    return len(addresses)
