"""Campaigns: who gets which apology, the two-person approval, and sending each one exactly once."""

from __future__ import annotations

import logging
import secrets
import time
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from incidents.models import AffectedPerson, Contact, Suppression

from . import mail, templating
from .models import (
    CODE_ALPHABET,
    CODE_LENGTH,
    EU_UK,
    AuditEvent,
    Campaign,
    CampaignTemplate,
    Consent,
    CountryPolicy,
    Delivery,
    DeliveryEvent,
    Recipient,
    Reply,
    new_short_code,
)

log = logging.getLogger(__name__)

# The starting words of every new campaign, in plain files a writer can edit. They use the
# campaign placeholders, not Django template syntax.
DEFAULTS_DIR = Path(settings.BASE_DIR) / "templates" / "apologies" / "default_apology"


def default_words() -> dict[str, str]:
    read = lambda name: (DEFAULTS_DIR / name).read_text(encoding="utf-8")  # noqa: E731
    return {
        "subject": read("subject.txt").strip(),
        "text_body": read("text.txt"),
        "html_body": read("html.html"),
        "letter_body": read("letter.html"),
        "invitation": read("invitation.txt").strip(),
    }


class CampaignError(Exception):
    """A refused action, with the reason for the person who asked."""


def _audit(campaign: Campaign, user, action: str, detail: str = "") -> None:
    AuditEvent.objects.create(campaign=campaign, user=user, action=action, detail=detail)


# Country policy


def policy_defaults_ensure() -> None:
    """US may be invited back; the EU, EEA and UK get an apology only. Editable afterwards."""
    if CountryPolicy.objects.exists():
        return
    rows = [
        CountryPolicy(
            country="US", invite_allowed=True, note="CAN-SPAM: opt-outs honoured; invitation by letter allowed"
        )
    ]
    rows += [
        CountryPolicy(country=c, invite_allowed=False, note="GDPR Art. 21(3) / PECR: objection covers every channel")
        for c in EU_UK
    ]
    CountryPolicy.objects.bulk_create(rows, ignore_conflicts=True)


def invite_allowed_for(country: str, policies: dict[str, bool]) -> bool:
    # A country without a policy gets the apology only: asking someone back who objected is the risk.
    return policies.get((country or "").upper(), False)


# Campaigns and their audience


def campaign_create(
    *, incident, name: str, author, tiers: Iterable[int] = (), states: Iterable[str] = (), **fields
) -> Campaign:
    policy_defaults_ensure()
    with transaction.atomic():
        campaign = Campaign.objects.create(
            incident=incident,
            name=name,
            author=author,
            audience_tiers=sorted(set(tiers)),
            audience_states=sorted(set(states)),
            **fields,
        )
        CampaignTemplate.objects.create(campaign=campaign, **default_words())
        _audit(campaign, author, "created", f"audience: {audience_label(campaign)}")
        campaign_plan(campaign=campaign)
    return campaign


def audience_label(campaign: Campaign) -> str:
    labels = campaign.incident.tier_labels()
    tiers = ", ".join(labels[t] for t in campaign.audience_tiers if t < len(labels)) or "every tier"
    states = ", ".join(campaign.audience_states) or "every state"
    return f"{tiers}; {states}"


def campaign_plan(*, campaign: Campaign) -> Counter:
    """Choose a channel for every person of the audience and record why. Keeps overrides."""
    if not campaign.is_editable:
        raise CampaignError("The audience is frozen once sending has started.")
    people = AffectedPerson.objects.filter(incident=campaign.incident)
    if campaign.audience_tiers:
        people = people.filter(tier__in=campaign.audience_tiers)
    if campaign.audience_states:
        people = people.filter(state__in=campaign.audience_states)
    people = list(people)
    emails = [p.email for p in people]
    contacts = {c.email: c for c in _in_chunks(Contact.objects, "email", emails)}
    suppressed: dict[str, set[str]] = {}
    for s in _in_chunks(Suppression.objects, "email", emails):
        suppressed.setdefault(s.email, set()).add(s.reason)
    already = set()
    if not campaign.allow_follow_up:
        already = set(
            Delivery.objects.filter(incident=campaign.incident, follow_up=False)
            .exclude(campaign=campaign)
            .values_list("email", flat=True)
        )
    policies = dict(CountryPolicy.objects.values_list("country", "invite_allowed"))
    overrides = {
        r.email: r for r in campaign.recipients.filter(reason=Recipient.Reason.OVERRIDE).select_related("contact")
    }
    codes = dict(campaign.recipients.values_list("email", "short_code"))

    rows = []
    for person in people:
        contact = contacts.get(person.email)
        channel, reason, detail = plan_channel(
            person, contact, suppressed.get(person.email, set()), person.email in already
        )
        objected = reason != Recipient.Reason.SUBSCRIBED
        override = overrides.get(person.email)
        if (
            override
            and override_problem(override.channel, person, contact, suppressed.get(person.email, set())) is None
        ):
            channel, reason, detail = override.channel, Recipient.Reason.OVERRIDE, override.detail
        rows.append(
            Recipient(
                campaign=campaign,
                email=person.email,
                contact=contact,
                messages=person.messages,
                first_at=person.first_at,
                last_at=person.last_at,
                max_in_10_min=person.max_in_10_min,
                state=person.state,
                tier=person.tier,
                channel=channel,
                reason=reason,
                detail=detail,
                invite_allowed=objected and invite_allowed_for(contact.country if contact else "", policies),
                gift=channel == Recipient.Channel.LETTER and person.tier in campaign.gift_tiers,
                language=(contact.language if contact and contact.language else campaign.default_language),
                short_code=codes.get(person.email) or "",
                override_by=override.override_by if override and reason == Recipient.Reason.OVERRIDE else None,
            )
        )
    _assign_codes(rows)
    with transaction.atomic():
        campaign.recipients.all().delete()
        Recipient.objects.bulk_create(rows, batch_size=2000)
        campaign.planned_at = timezone.now()
        campaign.save(update_fields=["planned_at", "updated"])
    return Counter(r.channel for r in rows)


def _in_chunks(manager, field: str, values: list[str], size: int = 5000):
    # SQLite caps the number of query parameters; PostgreSQL is happy either way.
    for i in range(0, len(values), size):
        yield from manager.filter(**{f"{field}__in": values[i : i + size]})


def _assign_codes(rows: list[Recipient]) -> None:
    """New people get a fresh code; people planned before keep the code a letter may already carry."""
    taken = {r.short_code for r in rows if r.short_code}
    for r in rows:
        while not r.short_code:
            code = new_short_code()
            if code not in taken:
                r.short_code = code
                taken.add(code)


def plan_channel(person, contact, suppressed: set[str], already: bool) -> tuple[str, str, str]:
    """(channel, reason, detail) for one person: email only to the subscribed and deliverable."""
    C, R = Recipient.Channel, Recipient.Reason
    if already:
        return C.NONE, R.ALREADY, "an earlier campaign of this incident apologised already"
    if person.state == "subscribed" and not person.bounced and not suppressed:
        return C.EMAIL, R.SUBSCRIBED, ""
    if person.state == "complained" or "complained" in suppressed:
        reason = R.COMPLAINED
    elif person.state == "unsubscribed":
        reason = R.UNSUBSCRIBED
    elif person.state == "bounced" or person.bounced:
        reason = R.BOUNCED
    else:
        reason = R.SUPPRESSED
    if suppressed:
        detail = "suppressed: " + ", ".join(sorted(suppressed))
    else:
        detail = ""
    if contact and contact.address_valid:
        return C.LETTER, reason, detail
    problem = "no postal address" if not contact else (contact.address_problems or "postal address not valid")
    return C.NONE, reason, "; ".join(p for p in (detail, problem) if p)


def override_problem(channel: str, person, contact, suppressed: set[str]) -> str | None:
    """Why a channel cannot be forced for this person, or None when it can."""
    if channel == Recipient.Channel.EMAIL:
        if suppressed:
            return "this address is on the suppression list: it can never be emailed"
        if person.state != "subscribed" or person.bounced:
            return f"this person is {person.state}: they cannot be emailed"
    if channel == Recipient.Channel.LETTER and not (contact and contact.address_valid):
        return "this person has no valid postal address"
    return None


def recipient_override(*, recipient: Recipient, channel: str, note: str, user) -> None:
    campaign = recipient.campaign
    if not campaign.is_editable:
        raise CampaignError("The audience is frozen once sending has started.")
    person = AffectedPerson.objects.filter(incident=campaign.incident, email=recipient.email).first()
    if person is None:
        raise CampaignError("This person is no longer in the incident's ledger.")
    suppressed = set(Suppression.objects.filter(email=recipient.email).values_list("reason", flat=True))
    problem = override_problem(channel, person, recipient.contact, suppressed)
    if problem:
        raise CampaignError(f"Cannot send {recipient.email} an {channel}: {problem}.")
    recipient.channel = channel
    recipient.reason = Recipient.Reason.OVERRIDE
    recipient.detail = note[:300]
    recipient.override_by = user
    recipient.gift = channel == Recipient.Channel.LETTER and recipient.tier in campaign.gift_tiers
    recipient.save()
    campaign_edited(campaign=campaign, user=user, what=f"channel of {recipient.email} set to {channel}")


def campaign_edited(*, campaign: Campaign, user, what: str) -> None:
    """Any change to the words or the audience needs a fresh approval."""
    _audit(campaign, user, "edited", what)
    if campaign.status in (Campaign.Status.SUBMITTED, Campaign.Status.APPROVED):
        previous = campaign.get_status_display().lower()
        campaign.status = Campaign.Status.DRAFT
        campaign.approved_by = None
        campaign.approved_at = None
        campaign.save(update_fields=["status", "approved_by", "approved_at", "updated"])
        _audit(campaign, user, "returned to draft", f"was {previous}; edited: {what}")
        from . import letters

        letters.stock_release(campaign=campaign, user=user)


def campaign_counts(*, campaign: Campaign) -> dict:
    recipients = campaign.recipients.all()
    by_channel = dict(recipients.values_list("channel").annotate(n=Count("id")).order_by())
    by_reason = sorted(
        recipients.values("channel", "reason").annotate(n=Count("id")).order_by("channel", "reason"),
        key=lambda r: (list(Recipient.Channel.values).index(r["channel"]), -r["n"]),
    )
    labels = campaign.incident.tier_labels()
    by_tier_rows = recipients.values("tier", "channel").annotate(n=Count("id")).order_by()
    by_tier = {i: {c: 0 for c in Recipient.Channel.values} for i in range(len(labels))}
    for row in by_tier_rows:
        by_tier.setdefault(row["tier"], {c: 0 for c in Recipient.Channel.values})[row["channel"]] = row["n"]
    letters = by_channel.get(Recipient.Channel.LETTER, 0)
    gifts = recipients.filter(channel=Recipient.Channel.LETTER, gift=True).count()
    from . import letters as letter_services

    # Each tier's gift costs its catalogue package, or the campaign's cost per gift without one.
    cost = letter_services.letters_cost(campaign=campaign).total
    reason_labels = dict(Recipient.Reason.choices)
    return {
        "total": sum(by_channel.values()),
        "by_channel": {c: by_channel.get(c, 0) for c in Recipient.Channel.values},
        "by_reason": [
            {"channel": r["channel"], "reason": r["reason"], "label": reason_labels[r["reason"]], "n": r["n"]}
            for r in by_reason
        ],
        "by_tier": [
            {"tier": i, "label": labels[i] if i < len(labels) else str(i), **by_tier[i]} for i in sorted(by_tier)
        ],
        "letters": letters,
        "gifts": gifts,
        "invitations": recipients.filter(invite_allowed=True).exclude(channel=Recipient.Channel.NONE).count(),
        "cost": cost.quantize(Decimal("0.01")),
    }


# Templates


def template_for(campaign: Campaign, recipient: Recipient, templates: list[CampaignTemplate] | None = None):
    """The recipient's language and tier variant, falling back to the default language, then any tier."""
    templates = templates if templates is not None else list(campaign.templates.all())
    by_key = {(t.language, t.tier): t for t in templates}
    for key in (
        (recipient.language, recipient.tier),
        (recipient.language, CampaignTemplate.ANY_TIER),
        ("", recipient.tier),
        ("", CampaignTemplate.ANY_TIER),
    ):
        if key in by_key:
            return by_key[key]
    return templates[0]


def template_problems(template: CampaignTemplate) -> dict[str, list[str]]:
    problems = {}
    for field in ("subject", "text_body", "html_body", "letter_body"):
        found = templating.validate(getattr(template, field))
        if found:
            problems[field] = found
    found = templating.validate(template.invitation, invitation=True)
    if found:
        problems["invitation"] = found
    return problems


def template_save(*, template: CampaignTemplate, user) -> None:
    problems = template_problems(template)
    if problems:
        raise CampaignError("; ".join(f"{field}: {', '.join(p)}" for field, p in problems.items()))
    template.save()
    campaign_edited(campaign=template.campaign, user=user, what=f"template {template}")


# Approval


def campaign_submit(*, campaign: Campaign, user) -> None:
    if not campaign.can_become(Campaign.Status.SUBMITTED):
        raise CampaignError(f"A {campaign.get_status_display().lower()} campaign cannot be submitted.")
    for template in campaign.templates.all():
        if template_problems(template):
            raise CampaignError(f"Fix the template {template} first.")
    if not campaign.recipients.exclude(channel=Recipient.Channel.NONE).exists():
        raise CampaignError("Nobody in this audience can be reached: there is nothing to approve.")
    _transition(campaign, Campaign.Status.SUBMITTED, user, "submitted for approval")


def campaign_approve(*, campaign: Campaign, user) -> None:
    """A second person, in the approver role, approves (or renews a stale approval)."""
    if not user.has_perm("apologies.approve_campaign"):
        raise CampaignError("Only an approver can approve a campaign.")
    if user.pk == campaign.author_id:
        raise CampaignError("You wrote this campaign: a second person has to approve it.")
    if campaign.status not in (Campaign.Status.SUBMITTED, Campaign.Status.APPROVED):
        raise CampaignError(f"A {campaign.get_status_display().lower()} campaign cannot be approved.")
    renew = campaign.status == Campaign.Status.APPROVED
    from . import letters

    with transaction.atomic():
        # Gift packages and budget are held by the approval, or it is refused saying by how much.
        letters.stock_reserve(campaign=campaign, user=user)
        campaign.approved_by = user
        campaign.approved_at = timezone.now()
        _transition(campaign, Campaign.Status.APPROVED, user, "approval renewed" if renew else "approved")


def campaign_reject(*, campaign: Campaign, user, reason: str) -> None:
    if not user.has_perm("apologies.approve_campaign"):
        raise CampaignError("Only an approver can send a campaign back.")
    if campaign.status != Campaign.Status.SUBMITTED:
        raise CampaignError("Only a submitted campaign can be sent back.")
    _transition(campaign, Campaign.Status.DRAFT, user, "sent back to draft", reason)


def _transition(campaign: Campaign, status: str, user, action: str, detail: str = "") -> None:
    if not campaign.can_become(status):
        raise CampaignError(
            f"A {campaign.get_status_display().lower()} campaign cannot become {Campaign.Status(status).label.lower()}."
        )
    # Conditional on the status we read, so two people clicking at once cannot both win.
    updated = Campaign.objects.filter(id=campaign.id, status=campaign.status).update(
        status=status,
        approved_by=campaign.approved_by,
        approved_at=campaign.approved_at,
        paused_reason=campaign.paused_reason,
        updated=timezone.now(),
    )
    if updated != 1:
        raise CampaignError("Someone else changed this campaign at the same moment: reload and try again.")
    campaign.status = status
    _audit(campaign, user, action, detail)


# Sending


def campaign_start(*, campaign: Campaign, user) -> int:
    """Queue every email delivery and start the senders. Refuses a stale approval."""
    if campaign.status != Campaign.Status.APPROVED:
        raise CampaignError(
            f"Only an approved campaign can start; this one is {campaign.get_status_display().lower()}."
        )
    if campaign.approval_is_stale():
        raise CampaignError(
            f"The approval of {campaign.approved_at:%Y-%m-%d %H:%M} UTC is older than "
            f"{campaign.approval_max_age_hours} h: an approver has to renew it before sending starts."
        )
    with transaction.atomic():
        queued = deliveries_create(campaign=campaign)
        campaign.started_at = timezone.now()
        campaign.paused_reason = ""
        campaign.consecutive_errors = 0
        campaign.save(update_fields=["started_at", "paused_reason", "consecutive_errors"])
        _transition(campaign, Campaign.Status.SENDING, user, "sending started", f"{queued} emails queued")
        senders_enqueue(campaign=campaign)
    return queued


def deliveries_create(*, campaign: Campaign) -> int:
    """One delivery row per person and channel; the database refuses a second apology per incident."""
    rows = [
        Delivery(
            campaign=campaign,
            recipient=r,
            incident_id=campaign.incident_id,
            email=r.email,
            channel=r.channel,
            follow_up=campaign.allow_follow_up,
        )
        for r in campaign.recipients.exclude(channel=Recipient.Channel.NONE)
    ]
    Delivery.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    created = campaign.deliveries.filter(channel=Recipient.Channel.EMAIL).count()
    missing = len([r for r in rows if r.channel == Recipient.Channel.EMAIL]) - created
    if missing:
        _audit(campaign, None, "skipped", f"{missing} people already had an apology for this incident")
    return created


def campaign_pause(*, campaign: Campaign, user, reason: str = "") -> None:
    campaign.paused_reason = reason or f"paused by {user.get_username()}"
    _transition(campaign, Campaign.Status.PAUSED, user, "paused", campaign.paused_reason)


def campaign_resume(*, campaign: Campaign, user) -> None:
    campaign.paused_reason = ""
    Campaign.objects.filter(id=campaign.id).update(consecutive_errors=0)
    with transaction.atomic():
        _transition(campaign, Campaign.Status.SENDING, user, "resumed")
        senders_enqueue(campaign=campaign)


def campaign_cancel(*, campaign: Campaign, user) -> None:
    with transaction.atomic():
        _transition(campaign, Campaign.Status.CANCELLED, user, "cancelled")
        from . import letters

        letters.stock_release(campaign=campaign, user=user)
        n = campaign.deliveries.filter(status=Delivery.Status.QUEUED).update(status=Delivery.Status.CANCELLED)
        if n:
            _audit(campaign, user, "cancelled deliveries", f"{n} queued apologies will not be sent")


def senders_enqueue(*, campaign: Campaign) -> None:
    from .tasks import send_batch

    campaign_id = campaign.id
    for _ in range(settings.AMENDS_SENDERS_PER_CAMPAIGN):
        transaction.on_commit(lambda: send_batch.delay(campaign_id))


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


class RateLimiter:
    """Messages per second for one campaign, shared by every worker through the cache."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign_id = campaign.id
        self.rate = max(1, campaign.rate_per_second)
        self.key = ""

    def acquire(self, n: int, *, deadline: float) -> bool:
        from django.core.cache import cache

        while time.monotonic() < deadline:
            second = int(time.time())
            key = f"amends:rate:{self.campaign_id}:{second}"
            cache.add(key, 0, timeout=5)
            try:
                used = cache.incr(key, n)
            except ValueError:
                continue
            if used <= self.rate:
                self.key = key
                return True
            cache.decr(key, n)
            time.sleep(max(0.01, second + 1 - time.time()))
        return False

    def give_back(self, n: int) -> None:
        from django.core.cache import cache

        if self.key and n > 0:
            try:
                cache.decr(self.key, n)
            except ValueError:
                pass  # that second is over anyway


def campaign_send_batch(*, campaign_id: int) -> str:
    """Send one batch of a campaign. Returns "more", "done", "waiting" or "stopped"."""
    campaign = Campaign.objects.select_related("incident").get(id=campaign_id)
    if campaign.status != Campaign.Status.SENDING:
        return "stopped"
    size = max(1, min(mail.batch_size(), campaign.rate_per_second))
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
    blocked = set(Suppression.objects.filter(email__in=[d.email for d in deliveries]).values_list("email", flat=True))
    if blocked:
        Delivery.objects.filter(id__in=[d.id for d in deliveries if d.email in blocked]).update(
            status=Delivery.Status.SKIPPED, error="on the suppression list at send time"
        )
        deliveries = [d for d in deliveries if d.email not in blocked]
    if not deliveries:
        return "more"
    pending = {d.id: d for d in deliveries}
    for group, outcome in mail.send_deliveries(campaign=campaign, deliveries=deliveries):
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


def _record(campaign: Campaign, deliveries: list[Delivery], outcome: mail.Outcome) -> None:
    now = timezone.now()
    ids = [d.id for d in deliveries]
    if outcome.kind == mail.Outcome.SENT:
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
    if outcome.kind == mail.Outcome.RETRY:
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
    elif outcome.kind == mail.Outcome.REVIEW:
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
        try:
            _transition(campaign, Campaign.Status.PAUSED, None, "paused automatically", campaign.paused_reason)
        except CampaignError:
            pass


def _finish_if_done(campaign: Campaign) -> str:
    open_rows = campaign.deliveries.filter(
        channel=Recipient.Channel.EMAIL, status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING]
    )
    if open_rows.filter(status=Delivery.Status.QUEUED).exists():
        return "waiting"  # retries with a backoff that is not due yet
    if open_rows.exists() and not deliveries_reconcile(campaign=campaign):
        return "waiting"  # another worker's batch is in flight
    try:
        campaign.finished_at = timezone.now()
        Campaign.objects.filter(id=campaign.id).update(finished_at=campaign.finished_at)
        _transition(campaign, Campaign.Status.COMPLETED, None, "completed", _summary(campaign))
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
    _audit(delivery.campaign, user, "review resolved", f"{delivery.email}: {'sent' if sent else 'queued again'}")
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
        window = timezone.now() - timedelta(seconds=30)
        recent = campaign.deliveries.filter(status=Delivery.Status.SENT, sent_at__gte=window).count()
        rate = recent / 30
    remaining = counts.get("queued", 0) + counts.get("sending", 0)
    eta = int(remaining / rate) if rate else None
    return {
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
    mail.send_test(campaign=campaign, recipient=recipient, to=addresses)
    _audit(campaign, user, "test sent", f"{recipient.email}'s apology to {', '.join(addresses)}")
    return len(addresses)


# Unsubscribing


def mask_email(email: str) -> str:
    """j***@example.com: enough for the person to recognise, not enough to read someone's address."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def delivery_for_unsubscribe_token(token: str) -> Delivery | None:
    delivery_id = mail.delivery_from_unsubscribe_token(token)
    if delivery_id is None:
        return None
    return Delivery.objects.filter(id=delivery_id).select_related("campaign").first()


def unsubscribe(*, delivery: Delivery, source: str) -> None:
    """Unsubscribing is immediate and needs no confirmation: it only ever stops email."""
    Suppression.objects.get_or_create(
        email=delivery.email,
        reason=Suppression.Reason.UNSUBSCRIBED,
        defaults={"source": f"{source} unsubscribe from campaign {delivery.campaign_id}"[:200]},
    )


# The way back: the public page


def sorry_recipient_id(token: str) -> int | None:
    """Whose signed link this is (from a letter, a QR code or an email); None if tampered or expired."""
    try:
        return int(signing.loads(token, salt=mail.SORRY_SALT, max_age=timedelta(days=settings.AMENDS_SORRY_LINK_DAYS)))
    except (signing.BadSignature, TypeError, ValueError):
        return None


def sorry_recipient(token: str) -> Recipient | None:
    recipient_id = sorry_recipient_id(token)
    if recipient_id is None:
        return None
    return Recipient.objects.filter(id=recipient_id).select_related("campaign__incident", "contact").first()


def sorry_page_data(recipient_id: int) -> dict | None:
    """What the personal page shows, in one query: it is the page everyone from a mailing opens."""
    from django.db.models import OuterRef, Subquery

    latest = Consent.objects.filter(recipient=OuterRef("pk")).order_by("-created")
    rows = list(
        Recipient.objects.filter(id=recipient_id)
        .order_by()
        .values(
            "id",
            "email",
            "messages",
            "max_in_10_min",
            "channel",
            "contact__first_name",
            "campaign__incident__started_at",
            "campaign__incident__what_happened",
            "campaign__incident__fix",
        )
        .annotate(
            earlier_choice=Subquery(latest.values("choice")[:1]), earlier_at=Subquery(latest.values("created")[:1])
        )[:1]
    )
    return rows[0] if rows else None


SORRY_PAGE_SECONDS = 300


def sorry_page_key(recipient_id: int, via: str) -> str:
    return f"amends:sorry-page:{recipient_id}:{via}"


def sorry_page_forget(recipient_id: int) -> None:
    """A choice was made: the cached personal page would show an old state."""
    from django.core.cache import cache

    cache.delete_many([sorry_page_key(recipient_id, via) for via in ("", "code")])


# Typed from paper: forgive what people misread. None of 0 O 1 I L is ever printed.
LOOK_ALIKES = {
    "0": "DQ",
    "O": "DQ",
    "1": "7JT",
    "I": "7JT",
    "L": "7JT",
    "5": "5S",
    "S": "S5",
    "2": "2Z",
    "Z": "Z2",
    "8": "8B",
    "B": "B8",
    "6": "6G",
    "G": "G6",
    "U": "UV",
    "V": "VU",
}


def code_candidates(typed: str) -> list[str]:
    """Codes the person may have meant: case, spaces and hyphens ignored, look-alikes tried."""
    raw = "".join(ch for ch in typed.upper() if ch.isalnum())
    if len(raw) != CODE_LENGTH:
        return []
    options = [LOOK_ALIKES.get(ch, ch) for ch in raw]
    if any(ch not in CODE_ALPHABET for opts in options for ch in opts if len(opts) == 1):
        return []
    candidates = [""]
    for opts in options:
        candidates = [c + ch for c in candidates for ch in opts if ch in CODE_ALPHABET]
        if len(candidates) > 512:
            candidates = candidates[:512]
    return [f"{c[:4]}-{c[4:]}" for c in candidates]


def code_recipient(typed: str) -> Recipient | None:
    candidates = code_candidates(typed)
    if not candidates:
        return None
    # Codes are unique per campaign; should two campaigns share one, the newest letter wins.
    return (
        Recipient.objects.filter(short_code__in=candidates, channel=Recipient.Channel.LETTER)
        .select_related("campaign__incident", "contact")
        .order_by("-campaign__created", "short_code")
        .first()
    )


def code_tries_left(ip: str) -> int:
    from django.core.cache import cache

    return max(0, settings.AMENDS_CODE_TRIES - (cache.get(f"amends:codetries:{ip}") or 0))


def code_try_failed(ip: str) -> None:
    from django.core.cache import cache

    key = f"amends:codetries:{ip}"
    cache.add(key, 0, timeout=settings.AMENDS_CODE_TRIES_WINDOW)
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=settings.AMENDS_CODE_TRIES_WINDOW)


def consent_text(choice: str, masked: str) -> str:
    """The exact words next to the button; stored with the consent as evidence of what was agreed."""
    brand = settings.AMENDS_BRAND_NAME
    return {
        Consent.Choice.RESUBSCRIBE: f"Yes, send emails from {brand} to {masked} again. I can unsubscribe at any time.",
        Consent.Choice.STAY: f"No thanks: keep {masked} unsubscribed from {brand}'s emails.",
        Consent.Choice.NEVER: f"Never contact {masked} again, by email or by post.",
    }[choice]


def consent_record(*, recipient: Recipient, choice: str, via: str, ip: str | None, user_agent: str) -> Consent:
    """Record a choice made on the public page and act on it; a second POST changes nothing."""
    masked = mask_email(recipient.email)
    consent, created = Consent.objects.get_or_create(
        recipient=recipient,
        choice=choice,
        defaults={
            "campaign": recipient.campaign,
            "email": recipient.email,
            "via": via,
            "channel": recipient.channel,
            "text_shown": consent_text(choice, masked),
            "ip": ip,
            "user_agent": user_agent[:500],
        },
    )
    if not created:
        return consent
    sorry_page_forget(recipient.id)
    if choice == Consent.Choice.NEVER:
        Suppression.objects.get_or_create(
            email=recipient.email,
            reason=Suppression.Reason.NEVER_AGAIN,
            defaults={"source": f"public page, campaign {recipient.campaign_id}"},
        )
    elif choice == Consent.Choice.RESUBSCRIBE:
        if via == Consent.Via.LETTER_CODE and settings.AMENDS_DOUBLE_OPT_IN_FOR_CODES:
            # Anyone can type a code from a letter: the address owner confirms by email first.
            mail.send_confirmation(consent=consent)
            Consent.objects.filter(id=consent.id).update(confirmation_sent_at=timezone.now())
            consent.refresh_from_db()
        else:
            resubscribe_apply(consent=consent)
    return consent


def consent_for_confirm_token(token: str) -> Consent | None:
    try:
        consent_id = signing.loads(token, salt=mail.CONFIRM_SALT, max_age=timedelta(days=30))
    except signing.BadSignature:
        return None
    return Consent.objects.filter(id=consent_id, choice=Consent.Choice.RESUBSCRIBE).first()


def consent_confirm(*, consent: Consent) -> None:
    if Consent.objects.filter(id=consent.id, confirmed_at__isnull=True).update(confirmed_at=timezone.now()):
        consent.refresh_from_db()
        resubscribe_apply(consent=consent)


def resubscribe_apply(*, consent: Consent) -> None:
    """The person asked to hear from us again: lift their 'unsubscribed' suppression (nothing else)."""
    Suppression.objects.filter(email=consent.email, reason=Suppression.Reason.UNSUBSCRIBED).delete()
    via = consent.get_via_display().lower()
    _audit(consent.campaign, None, "re-subscribed", f"{mask_email(consent.email)} via {via}")


# Tracking: what the ESP tells us after sending (anymail tracking webhooks)

TRACKED = {
    "delivered": ("delivered_at", None),
    "opened": ("opened_at", None),
    "clicked": ("clicked_at", None),
    "bounced": ("bounced_at", Suppression.Reason.HARD_BOUNCE),
    "complained": ("complained_at", Suppression.Reason.COMPLAINED),
    "unsubscribed": ("unsubscribed_at", Suppression.Reason.UNSUBSCRIBED),
}


def tracking_receive(*, event, esp_name: str) -> DeliveryEvent | None:
    """Keep the event, once: the ESP retries webhooks. The work happens in a task."""
    import hashlib
    import json

    when = event.timestamp or timezone.now()
    key = (
        event.event_id
        or hashlib.sha256(
            f"{esp_name}|{event.message_id}|{event.recipient}|{event.event_type}|{when.isoformat()}".encode()
        ).hexdigest()
    )
    metadata = event.metadata or {}
    delivery_id = str(metadata.get("delivery_id", ""))
    delivery = Delivery.objects.filter(id=int(delivery_id)).first() if delivery_id.isdigit() else None
    if delivery is None and event.message_id and event.recipient:
        delivery = (
            Delivery.objects.filter(esp_message_id=event.message_id, email=(event.recipient or "").lower())
            .order_by("-id")
            .first()
        )
    try:
        raw = json.loads(json.dumps(event.esp_event, default=str))
    except (TypeError, ValueError):
        raw = {"unreadable": str(event.esp_event)[:2000]}
    stored, created = DeliveryEvent.objects.get_or_create(
        esp_event_id=f"{esp_name}:{key}"[:255],
        defaults={
            "delivery": delivery,
            "event_type": event.event_type,
            "recipient": (event.recipient or "").lower()[:254],
            "message_id": (event.message_id or "")[:255],
            "occurred_at": when,
            "description": (event.description or event.mta_response or "")[:500],
            "raw": raw if isinstance(raw, dict) else {"event": raw},
        },
    )
    if not created:
        return None
    from .tasks import apply_tracking_event

    transaction.on_commit(lambda: apply_tracking_event.delay(stored.id))
    return stored


def tracking_apply(*, event_id: int) -> bool:
    """Act on one stored event, once, whoever runs it."""
    if DeliveryEvent.objects.filter(id=event_id, applied=False).update(applied=True) != 1:
        return False
    event = DeliveryEvent.objects.select_related("delivery").get(id=event_id)
    field, reason = TRACKED.get(event.event_type, (None, None))
    if field and event.delivery_id:
        Delivery.objects.filter(id=event.delivery_id, **{f"{field}__isnull": True}).update(**{field: event.occurred_at})
    if reason and event.recipient:
        # A hard bounce, a complaint or an unsubscribe stops email to the address, matched or not.
        Suppression.objects.get_or_create(
            email=event.recipient,
            reason=reason,
            defaults={"source": f"ESP webhook: {event.event_type}"[:200], "created": event.occurred_at},
        )
    return True


# Replies (anymail inbound webhook) and replies logged by staff


def _addresses(message, field: str) -> list[str]:
    # Not lower-cased: the signed part of reply+… and unsubscribe+… addresses is case-sensitive.
    return [a.addr_spec for a in (getattr(message, field, None) or []) if getattr(a, "addr_spec", "")]


def _message_ids(header: str) -> set[str]:
    ids = set()
    for part in (header or "").replace(",", " ").split():
        part = part.strip()
        if part:
            ids.add(part)
            ids.add(part.strip("<>"))
            ids.add(f"<{part.strip('<>')}>")
    return ids


def reply_receive(*, message) -> Reply | None:
    """An email answer to an apology: match it to its delivery, classify it, act on "never again"."""
    from . import replies

    recipients = _addresses(message, "to") + _addresses(message, "cc")
    envelope = getattr(message, "envelope_recipient", "") or ""
    if envelope:
        recipients.append(envelope)
    for address in recipients:
        local = address.split("@", 1)[0]
        if local.startswith("unsubscribe+"):
            # The mailto: half of List-Unsubscribe.
            delivery = delivery_for_unsubscribe_token(local[len("unsubscribe+") :])
            if delivery:
                unsubscribe(delivery=delivery, source="mailto")
            return None
    sender = message.from_email.addr_spec.lower() if getattr(message, "from_email", None) else ""
    delivery, matched_by = None, Reply.Match.NONE
    for address in recipients:
        delivery_id = mail.delivery_from_reply_address(address)
        if delivery_id:
            delivery = Delivery.objects.filter(id=delivery_id).first()
            if delivery:
                matched_by = Reply.Match.REPLY_TO
                break
    if delivery is None:
        ids = _message_ids(message.get("In-Reply-To", "")) | _message_ids(message.get("References", ""))
        if ids:
            delivery = Delivery.objects.filter(esp_message_id__in=ids).order_by("-id").first()
            matched_by = Reply.Match.REFERENCES if delivery else matched_by
    if delivery is None and sender:
        delivery = Delivery.objects.filter(email=sender).exclude(status=Delivery.Status.QUEUED).order_by("-id").first()
        matched_by = Reply.Match.SENDER if delivery else matched_by
    text = message.text or ""
    if not text and message.html:
        import re

        text = re.sub(r"<[^>]+>", " ", message.html)
    headers = {k: str(v) for k, v in message.items()}
    kind, _why = replies.classify(subject=message.subject or "", text=text, headers=headers)
    reply = Reply.objects.create(
        campaign=delivery.campaign if delivery else None,
        delivery=delivery,
        channel=Reply.Channel.EMAIL,
        matched_by=matched_by,
        from_email=sender[:254],
        subject=(message.subject or "")[:500],
        text=text,
        html=message.html or "",
        message_id=(message.get("Message-ID", "") or "")[:500],
        kind=kind,
    )
    if kind == Reply.Kind.NEVER_AGAIN:
        _never_again(reply)
    return reply


def _never_again(reply: Reply) -> None:
    emails = {e for e in (reply.from_email, reply.delivery.email if reply.delivery else "") if e}
    for email in emails:
        Suppression.objects.get_or_create(
            email=email,
            reason=Suppression.Reason.NEVER_AGAIN,
            defaults={"source": f"reply: {reply.get_channel_display().lower()}"},
        )


def reply_reclassify(*, reply: Reply, kind: str, user) -> None:
    reply.kind = kind
    reply.kind_set_by = user
    reply.save(update_fields=["kind", "kind_set_by"])
    if kind == Reply.Kind.NEVER_AGAIN:
        _never_again(reply)
    if reply.campaign:
        what = f"{mask_email(reply.from_email)}: {reply.get_kind_display()}"
        _audit(reply.campaign, user, "reply reclassified", what)


def reply_log(*, campaign: Campaign, email: str, channel: str, kind: str, text: str, user) -> Reply:
    """A reply that came by phone or by post, typed in by staff."""
    email = email.strip().lower()
    delivery = campaign.deliveries.filter(email=email).first() if email else None
    reply = Reply.objects.create(
        campaign=campaign,
        delivery=delivery,
        channel=channel,
        matched_by=Reply.Match.STAFF,
        from_email=email,
        text=text,
        kind=kind,
        kind_set_by=user,
    )
    if kind == Reply.Kind.NEVER_AGAIN:
        _never_again(reply)
    _audit(campaign, user, "reply logged", f"{channel}: {reply.get_kind_display()}")
    return reply


# Results


def results_for(*, campaigns, affected: int) -> dict:
    """The funnel from hit to back, for one campaign or all of an incident's."""
    from django.db.models.functions import TruncDate

    ids = [c.id for c in campaigns]
    deliveries = Delivery.objects.filter(campaign_id__in=ids)
    recipients = Recipient.objects.filter(campaign_id__in=ids)
    channels = [Recipient.Channel.EMAIL, Recipient.Channel.LETTER]
    apologised = dict(
        deliveries.filter(status=Delivery.Status.SENT).values_list("channel").annotate(n=Count("id")).order_by()
    )
    delivered = deliveries.filter(channel=Recipient.Channel.EMAIL, delivered_at__isnull=False).count()
    replies = Reply.objects.filter(campaign_id__in=ids)
    by_kind = dict(replies.values_list("kind").annotate(n=Count("id")).order_by())
    counted = Consent.objects.filter(campaign_id__in=ids, choice=Consent.Choice.RESUBSCRIBE).filter(
        Q(confirmation_sent_at__isnull=True) | Q(confirmed_at__isnull=False)
    )
    back_by_channel = dict(counted.values_list("channel").annotate(n=Count("id")).order_by())
    back_by_tier = dict(counted.values_list("recipient__tier").annotate(n=Count("id")).order_by())
    objected = recipients.exclude(reason=Recipient.Reason.SUBSCRIBED)
    objected_by_channel = dict(objected.values_list("channel").annotate(n=Count("id")).order_by())
    objected_by_tier = dict(objected.values_list("tier").annotate(n=Count("id")).order_by())
    never = Consent.objects.filter(campaign_id__in=ids, choice=Consent.Choice.NEVER).count()
    resubscribed = sum(back_by_channel.values())
    complaints = by_kind.get(Reply.Kind.COMPLAINT, 0) + deliveries.filter(complained_at__isnull=False).count()
    letters = apologised.get(Recipient.Channel.LETTER, 0)
    gifts = deliveries.filter(
        status=Delivery.Status.SENT, channel=Recipient.Channel.LETTER, recipient__gift=True
    ).count()
    cost = sum(
        (c.cost_per_letter * deliveries.filter(campaign=c, channel="letter", status="sent").count() for c in campaigns),
        Decimal("0"),
    ) + sum(
        (
            c.cost_per_gift
            * deliveries.filter(campaign=c, channel="letter", status="sent", recipient__gift=True).count()
            for c in campaigns
        ),
        Decimal("0"),
    )
    labels = campaigns[0].incident.tier_labels() if campaigns else []

    def rate(n: int, of: int) -> float | None:
        return round(100 * n / of, 1) if of else None

    over_time: dict[str, dict[str, int]] = {}
    for row in counted.annotate(day=TruncDate("created")).values("day", "channel").annotate(n=Count("id")):
        over_time.setdefault(row["day"].isoformat(), {})[f"re-signups by {row['channel']}"] = row["n"]
    for row in replies.annotate(day=TruncDate("received_at")).values("day", "kind").annotate(n=Count("id")):
        over_time.setdefault(row["day"].isoformat(), {})[f"replies: {row['kind']}"] = row["n"]
    days = sorted(over_time)
    series = sorted({name for day in over_time.values() for name in day})
    return {
        "affected": affected,
        "audience": recipients.count(),
        "apologised": {c: apologised.get(c, 0) for c in channels},
        "apologised_total": sum(apologised.get(c, 0) for c in channels),
        "delivered": delivered,
        "replies_total": sum(by_kind.values()),
        "replies": [{"kind": k, "label": label, "n": by_kind.get(k, 0)} for k, label in Reply.Kind.choices],
        "resubscribed": resubscribed,
        "resubscribed_by_channel": {c: back_by_channel.get(c, 0) for c in channels},
        "still_unsubscribed": max(0, objected.count() - resubscribed),
        "never_again": never + by_kind.get(Reply.Kind.NEVER_AGAIN, 0),
        "complaints": complaints,
        "win_back_by_channel": [
            {
                "channel": c,
                "back": back_by_channel.get(c, 0),
                "of": objected_by_channel.get(c, 0),
                "rate": rate(back_by_channel.get(c, 0), objected_by_channel.get(c, 0)),
            }
            for c in channels
        ],
        "win_back_by_tier": [
            {
                "tier": labels[t] if t < len(labels) else str(t),
                "back": back_by_tier.get(t, 0),
                "of": objected_by_tier.get(t, 0),
                "rate": rate(back_by_tier.get(t, 0), objected_by_tier.get(t, 0)),
            }
            for t in range(len(labels))
        ],
        "cost": cost.quantize(Decimal("0.01")),
        "letters": letters,
        "gifts": gifts,
        "cost_per_resignup": (cost / resubscribed).quantize(Decimal("0.01")) if resubscribed else None,
        "chart": {
            "days": days,
            "series": [{"name": s, "values": [over_time[d].get(s, 0) for d in days]} for s in series],
        },
    }


RESULT_COLUMNS = [
    "email",
    "channel",
    "reason",
    "tier",
    "state",
    "delivery",
    "delivered_at",
    "opened_at",
    "replies",
    "reply_kinds",
    "choice",
    "resubscribed_at",
]


def results_rows(*, campaign: Campaign):
    labels = campaign.incident.tier_labels()
    deliveries = {d.recipient_id: d for d in campaign.deliveries.all()}
    replies: dict[str, list[str]] = {}
    for r in campaign.replies.all():
        replies.setdefault(r.delivery.email if r.delivery else r.from_email, []).append(r.kind)
    consents: dict[int, Consent] = {}
    for c in campaign.consents.order_by("created"):
        consents[c.recipient_id] = c
    for r in campaign.recipients.order_by("-messages", "email").iterator(chunk_size=2000):
        d = deliveries.get(r.id)
        c = consents.get(r.id)
        back = c and c.choice == Consent.Choice.RESUBSCRIBE and c.counts
        yield {
            "email": r.email,
            "channel": r.channel,
            "reason": r.reason,
            "tier": labels[r.tier] if r.tier < len(labels) else r.tier,
            "state": r.state,
            "delivery": d.status if d else "",
            "delivered_at": d.delivered_at.isoformat() if d and d.delivered_at else "",
            "opened_at": d.opened_at.isoformat() if d and d.opened_at else "",
            "replies": len(replies.get(r.email, [])),
            "reply_kinds": " ".join(replies.get(r.email, [])),
            "choice": c.choice if c else "",
            "resubscribed_at": (c.confirmed_at or c.created).isoformat() if back else "",
        }
