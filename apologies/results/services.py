"""Results, read-only: the funnel, win-back by channel and tier, cost per re-signup, the per-person export."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone

from apologies.campaigns.models import Campaign, Recipient
from apologies.feedback.models import Reply
from apologies.letters import stock
from apologies.letters.providers.services import provider_letters_summary
from apologies.sending.models import Delivery
from apologies.wayback.models import Consent
from apologies.wayback.services import unsubscribe_source
from incidents.models import AffectedPerson, Suppression, SuppressionChange
from incidents.vocabulary import EventType


def unsubscribes(*, campaign_ids: list[int]) -> dict[str, datetime]:
    """Who unsubscribed through these campaigns' own emails, and when first: the apology's worst outcome.

    A delivery's `unsubscribed_at` is stamped by the ESP's unsubscribe event and by our own links (page,
    one-click, mailto), as `complained_at` is by complaints. Link unsubscribes recorded before the stamp
    existed are found on the suppression changes, by the campaign their source names.
    """
    deliveries = Delivery.objects.filter(campaign_id__in=campaign_ids)
    found: dict[str, datetime] = {}
    stamped = deliveries.filter(unsubscribed_at__isnull=False).values_list("email", "unsubscribed_at")
    named = Q()
    for campaign_id in campaign_ids:
        named |= Q(source__endswith=unsubscribe_source(how="", campaign_id=campaign_id))
    recorded = SuppressionChange.objects.filter(
        named,
        action=SuppressionChange.Action.ADDED,
        reason=Suppression.Reason.UNSUBSCRIBED,
        email__in=deliveries.values("email"),
    ).values_list("email", "at")
    for email, at in [*stamped, *recorded]:
        found[email] = min(at, found.get(email, at))
    return found


def opted_out(recipients):
    """The people who had opted out (or could not be reached) before the apology, whatever channel it took.

    Planned people carry their objection as their reason. People set by hand, or already apologised by
    another campaign, carry neither: their ledger state says (someone still subscribed set to a letter by
    hand had not opted out).
    """
    hand_set = [Recipient.Reason.OVERRIDE, Recipient.Reason.ALREADY]
    return recipients.exclude(reason=Recipient.Reason.SUBSCRIBED).exclude(
        reason__in=hand_set, state=AffectedPerson.State.SUBSCRIBED
    )


def replies_of_people(*, campaign_ids: list[int]):
    """(the replies from these campaigns' people, the other replies filed under them).

    A reply is a person's when it answers a delivery, or its address is one of the campaign's recipients; a
    reply logged for any other address (a phone call from someone else) is the campaign's but no recipient's.
    """
    replies = Reply.objects.filter(campaign_id__in=campaign_ids).annotate(
        person=Coalesce("delivery__email", Lower("from_email"))
    )
    recipient = Recipient.objects.filter(campaign_id=OuterRef("campaign_id"), email=OuterRef("person"))
    tied = Q(delivery__isnull=False) | Q(Exists(recipient))
    return replies.filter(tied), replies.exclude(tied)


def results_for(*, campaigns, affected: int) -> dict:
    """The funnel from hit to back, for one campaign or all of an incident's."""

    ids = [c.id for c in campaigns]
    deliveries = Delivery.objects.filter(campaign_id__in=ids)
    recipients = Recipient.objects.filter(campaign_id__in=ids)
    channels = [Recipient.Channel.EMAIL, Recipient.Channel.LETTER]
    apologised = dict(
        deliveries.filter(status=Delivery.Status.SENT).values_list("channel").annotate(n=Count("id")).order_by()
    )
    delivered = deliveries.filter(channel=Recipient.Channel.EMAIL, delivered_at__isnull=False).count()
    replies, others = replies_of_people(campaign_ids=ids)
    by_kind = dict(replies.values_list("kind").annotate(n=Count("id")).order_by())
    counted = Consent.objects.filter(campaign_id__in=ids, choice=Consent.Choice.RESUBSCRIBE).filter(
        Q(confirmation_sent_at__isnull=True) | Q(confirmed_at__isnull=False)
    )
    back_by_channel = dict(counted.values_list("channel").annotate(n=Count("id")).order_by())
    objected = opted_out(recipients)
    # Win-back is of the people who had opted out: a re-signup by anyone else is not one of theirs.
    counted_back = counted.filter(recipient__in=objected)
    won_by_channel = dict(counted_back.values_list("channel").annotate(n=Count("id")).order_by())
    won_by_tier = dict(counted_back.values_list("recipient__tier").annotate(n=Count("id")).order_by())
    objected_by_channel = dict(objected.values_list("channel").annotate(n=Count("id")).order_by())
    objected_by_tier = dict(objected.values_list("tier").annotate(n=Count("id")).order_by())
    never = Consent.objects.filter(campaign_id__in=ids, choice=Consent.Choice.NEVER).count()
    resubscribed = sum(back_by_channel.values())
    complaints = by_kind.get(Reply.Kind.COMPLAINT, 0) + deliveries.filter(complained_at__isnull=False).count()
    unsubscribed = unsubscribes(campaign_ids=ids)
    # Letters and gifts count from when they were rendered for the mail house, priced by the same rule
    # as the approval's reservation (gift packages from the catalogue).
    spent = [stock.letters_cost(campaign=c, rendered_only=True) for c in campaigns]
    letters = sum(s.letters for s in spent)
    gifts = sum(s.gift_count for s in spent)
    cost = sum((s.total for s in spent), Decimal("0"))
    # Reserved: what the approval held for every planned letter, by the same rule, until letters are rendered.
    reserved = sum((stock.letters_cost(campaign=c).total for c in campaigns if c.status in RESERVING), Decimal("0"))
    # A letter counts as apologised from when it was rendered for the mail house, as its cost does.
    apologised[Recipient.Channel.LETTER] = max(apologised.get(Recipient.Channel.LETTER, 0), letters)
    labels = campaigns[0].incident.tier_labels() if campaigns else []

    def rate(n: int, of: int) -> float | None:
        return round(100 * n / of, 1) if of else None

    events = [(at, f"re-signups by {channel}") for at, channel in counted.values_list("created", "channel")]
    events += [(at, f"replies: {kind}") for at, kind in replies.values_list("received_at", "kind")]
    events += [(at, EventType.UNSUBSCRIBED.value) for at in unsubscribed.values()]
    chart = chart_buckets(events)
    return {
        "affected": affected,
        "audience": recipients.count(),
        "apologised": {c: apologised.get(c, 0) for c in channels},
        "apologised_total": sum(apologised.get(c, 0) for c in channels),
        "delivered": delivered,
        "replies_total": sum(by_kind.values()),
        "replied": replies.values("person").distinct().count(),
        "replies_from_others": others.count(),
        "replies": [{"kind": k, "label": label, "n": by_kind.get(k, 0)} for k, label in Reply.Kind.choices],
        "resubscribed": resubscribed,
        "resubscribed_by_channel": {c: back_by_channel.get(c, 0) for c in channels},
        "still_unsubscribed": max(0, objected.count() - resubscribed),
        "never_again": never + by_kind.get(Reply.Kind.NEVER_AGAIN, 0),
        "complaints": complaints,
        "unsubscribed": len(unsubscribed),
        "win_back_by_channel": [
            {
                "channel": c,
                "back": won_by_channel.get(c, 0),
                "of": objected_by_channel.get(c, 0),
                "rate": rate(won_by_channel.get(c, 0), objected_by_channel.get(c, 0)),
            }
            for c in channels
        ],
        "win_back_by_tier": [
            {
                "tier": labels[t] if t < len(labels) else str(t),
                "back": won_by_tier.get(t, 0),
                "of": objected_by_tier.get(t, 0),
                "rate": rate(won_by_tier.get(t, 0), objected_by_tier.get(t, 0)),
            }
            for t in range(len(labels))
        ],
        # Letters through a print-and-mail provider, by their tracking (mailed, in transit, delivered, returned).
        "letters_tracked": provider_letters_summary(campaigns=ids),
        "cost": cost.quantize(Decimal("0.01")),
        "reserved": reserved.quantize(Decimal("0.01")),
        "held_back": held_back(recipients),
        "letters": letters,
        "gifts": gifts,
        "cost_per_resignup": (cost / resubscribed).quantize(Decimal("0.01")) if resubscribed else None,
        "chart": chart,
    }


# Statuses whose approval holds the letters' budget and gifts (see letters.stock.stock_reserve).
RESERVING = {
    Campaign.Status.APPROVED,
    Campaign.Status.SENDING,
    Campaign.Status.PAUSED,
    Campaign.Status.COMPLETED,
}


def chart_buckets(events: list[tuple]) -> dict:
    """Counts per time bucket that follow the data: hours when it spans two days or less, else days.

    Buckets are in the staff member's time zone and every bucket between the first and last is drawn,
    so a quiet hour shows as a gap, not as nothing.
    """
    if not events:
        return {"days": [], "series": [], "unit": "day"}
    local = [(timezone.localtime(at), name) for at, name in events]
    first, last = min(at for at, _ in local), max(at for at, _ in local)
    hourly = (last - first).total_seconds() <= 2 * 86400
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    start = first.replace(minute=0, second=0, microsecond=0)
    if not hourly:
        start = start.replace(hour=0)
    keys = []
    at = start
    while at <= last:
        keys.append(at)
        at += step
    label = (lambda t: t.strftime("%d %b %H:00")) if hourly else (lambda t: t.strftime("%d %b"))
    counts: dict[str, dict] = {}
    for at, name in local:
        index = int((at - start) / step)
        counts.setdefault(name, {}).setdefault(index, 0)
        counts[name][index] += 1
    return {
        "days": [label(k) for k in keys],
        "unit": "hour" if hourly else "day",
        "series": [
            {"name": name, "values": [counts[name].get(i, 0) for i in range(len(keys))]} for name in sorted(counts)
        ],
    }


def held_back(recipients) -> dict:
    """What the country rules withheld from people who objected: letters, gifts, invitations."""
    objected = opted_out(recipients)
    return {
        "letters": objected.filter(channel=Recipient.Channel.NONE, detail__contains="country rule: no letter").count(),
        "invitations": objected.exclude(channel=Recipient.Channel.NONE).filter(invite_allowed=False).count(),
    }


RESULT_COLUMNS = [
    "email",
    "language",
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
    "unsubscribed_at",
]


def results_rows(*, campaign: Campaign):
    labels = campaign.incident.tier_labels()
    deliveries = {d.recipient_id: d for d in campaign.deliveries.all()}
    replies: dict[str, list[str]] = {}
    for r in campaign.replies.select_related("delivery"):
        replies.setdefault(r.delivery.email if r.delivery else r.from_email.lower(), []).append(r.kind)
    consents: dict[int, Consent] = {}
    for c in campaign.consents.order_by("created", "id"):
        kept = consents.get(c.recipient_id)
        # A person's latest choice wins, except that staying unsubscribed does not undo never-again: it is
        # stricter, and still holds (its suppression stays; only a re-signup lifts anything).
        if kept is not None and kept.choice == Consent.Choice.NEVER and c.choice == Consent.Choice.STAY:
            continue
        consents[c.recipient_id] = c
    unsubscribed = unsubscribes(campaign_ids=[campaign.id])
    for r in campaign.recipients.order_by("-messages", "email").iterator(chunk_size=2000):
        d = deliveries.get(r.id)
        c = consents.get(r.id)
        back = c and c.choice == Consent.Choice.RESUBSCRIBE and c.counts
        # The person's last word wins: a choice on the page after an unsubscribe from this email, or the reverse.
        unsub_at = unsubscribed.get(r.email)
        chose_later = c is not None and (unsub_at is None or c.created > unsub_at)
        if d and d.complained_at:
            state = AffectedPerson.State.COMPLAINED
        elif unsub_at and not (back and chose_later):
            state = AffectedPerson.State.UNSUBSCRIBED
        else:
            state = r.state
        yield {
            "email": r.email,
            "language": r.language,
            "channel": r.channel,
            "reason": r.reason,
            "tier": labels[r.tier] if r.tier < len(labels) else r.tier,
            "state": state,
            "delivery": d.status if d else "",
            "delivered_at": d.delivered_at.isoformat() if d and d.delivered_at else "",
            "opened_at": d.opened_at.isoformat() if d and d.opened_at else "",
            "replies": len(replies.get(r.email, [])),
            "reply_kinds": " ".join(replies.get(r.email, [])),
            "choice": c.choice if chose_later else EventType.UNSUBSCRIBED.value if unsub_at else "",
            "resubscribed_at": (c.confirmed_at or c.created).isoformat() if back else "",
            "unsubscribed_at": unsub_at.isoformat() if unsub_at else "",
        }
