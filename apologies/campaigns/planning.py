"""Planning a campaign: its audience, a channel for every person with the reason, overrides and counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from types import SimpleNamespace

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.db.models.deletion import get_candidate_relations_to_delete
from django.utils import timezone

from apologies.campaigns import locales, plan_sql
from apologies.campaigns.audit import audit_add
from apologies.campaigns.lifecycle import campaign_edited
from apologies.campaigns.models import (
    EU_UK,
    Campaign,
    CampaignError,
    CampaignTemplate,
    CountryPolicy,
    Recipient,
    new_short_code,
)
from apologies.campaigns.words import default_words
from apologies.letters import stock
from apologies.letters.models import LetterPreview
from apologies.privacy import services as privacy
from apologies.privacy.models import ErasedAddress
from apologies.sending.models import Delivery
from incidents.models import AffectedPerson, Contact, Suppression

US_REASONS = {
    "letter_reason": "An apology is not marketing; CAN-SPAM governs email only.",
    "gift_reason": "CAN-SPAM governs email only; a gift by post is allowed.",
    "invite_reason": "CAN-SPAM: opt-outs are honoured; an invitation by letter is allowed.",
}


EU_UK_REASONS = {
    "letter_reason": "An apology is not direct marketing: legitimate interest in righting our error (Art. 6(1)(f)).",
    "gift_reason": "A gift promotes the brand: direct marketing to someone who objected (GDPR Art. 21(3), PECR).",
    "invite_reason": "Asking them back is direct marketing after an objection (GDPR Art. 21(3), PECR).",
}


def policy_defaults_ensure() -> None:
    """US: letter, gift and invitation; the EU, EEA and UK: the apology letter only. Editable afterwards."""
    if CountryPolicy.objects.exists():
        return
    rows = [CountryPolicy(country="US", letter_allowed=True, gift_allowed=True, invite_allowed=True, **US_REASONS)]
    rows += [
        CountryPolicy(country=c, letter_allowed=True, gift_allowed=False, invite_allowed=False, **EU_UK_REASONS)
        for c in EU_UK
    ]
    CountryPolicy.objects.bulk_create(rows, ignore_conflicts=True)


@dataclass(frozen=True)
class Allowed:
    """What a country's rule lets someone who objected receive."""

    letter: bool
    gift: bool
    invite: bool
    reason: str = ""


# A country without a rule: the apology letter only; asking someone back who objected is the risk.
NO_RULE = Allowed(letter=True, gift=False, invite=False, reason="no rule for this country: apology letter only")


def policy_map() -> dict[str, Allowed]:
    return {
        p.country: Allowed(p.letter_allowed, p.gift_allowed, p.invite_allowed, p.letter_reason)
        for p in CountryPolicy.objects.all()
    }


def allowed_for(country: str, policies: dict[str, Allowed]) -> Allowed:
    return policies.get((country or "").upper(), NO_RULE)


def policy_save(*, country: str, **switches) -> CountryPolicy:
    """Set what people who objected in `country` may receive: letter, gift, invitation, each with its reason."""
    policy, _ = CountryPolicy.objects.update_or_create(country=country.upper(), defaults=switches)
    return policy


def invite_allowed_for(country: str, policies: dict[str, Allowed]) -> bool:
    return allowed_for(country, policies).invite


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
        CampaignTemplate.objects.create(campaign=campaign, **default_words(campaign.default_language))
        audit_add(campaign, author, "created", f"audience: {audience_label(campaign)}")
        campaign_plan(campaign=campaign)
    return campaign


def audience_label(campaign: Campaign) -> str:
    labels = campaign.incident.tier_labels()
    tiers = ", ".join(labels[t] for t in campaign.audience_tiers if t < len(labels)) or "every tier"
    states = ", ".join(campaign.audience_states) or "every state"
    return f"{tiers}; {states}"


# People planned in Python this many at a time, and audience addresses checked against the erasures per query.
PLAN_CHUNK = 5000
ERASED_CHUNK = 20_000


def audience(campaign: Campaign):
    people = AffectedPerson.objects.filter(incident=campaign.incident)
    if campaign.audience_tiers:
        people = people.filter(tier__in=campaign.audience_tiers)
    if campaign.audience_states:
        people = people.filter(state__in=campaign.audience_states)
    return people


def campaign_plan(*, campaign: Campaign) -> Counter:
    """Choose a channel for every person of the audience and record why. Keeps overrides and codes.

    On PostgreSQL the audience is planned set-wise in one statement (plan_sql), people set by hand in Python;
    elsewhere everyone in Python, a chunk at a time. Either way in one transaction, memory flat.
    """
    if not campaign.is_editable:
        raise CampaignError("The audience is frozen once sending has started.")
    policies = policy_map()
    overrides = {
        r.email: r for r in campaign.recipients.filter(reason=Recipient.Reason.OVERRIDE).select_related("contact")
    }
    set_wise = connection.vendor == "postgresql"
    with transaction.atomic():
        if set_wise:
            kept = plan_sql.codes_keep(campaign=campaign)
            codes = {email: r.short_code for email, r in overrides.items()}
        else:
            codes = dict(campaign.recipients.values_list("email", "short_code"))
        recipients_clear(campaign=campaign)
        people = audience(campaign)
        if set_wise:
            plan_sql.recipients_plan_sql(
                campaign=campaign,
                policies={c: plan_sql.Rule(a.letter, a.gift, a.invite, a.reason) for c, a in policies.items()},
                no_rule=plan_sql.Rule(NO_RULE.letter, NO_RULE.gift, NO_RULE.invite, NO_RULE.reason),
                erased=audience_erased(campaign),
                languages=audience_languages(campaign),
                skip=list(overrides),
                kept=kept,
            )
            people = people.filter(email__in=list(overrides))
        recipients_plan_python(campaign=campaign, people=people, policies=policies, overrides=overrides, codes=codes)
        campaign.planned_at = timezone.now()
        campaign.save(update_fields=["planned_at", "updated"])
    return plan_sql.channel_counts(campaign=campaign)


def recipients_clear(*, campaign: Campaign) -> None:
    """Delete the campaign's recipients before a new plan.

    In one statement when nothing but the control group and letter previews refer to them (a draft's case; the
    cascade would delete those too): Django's cascade would load every recipient (a million model instances).
    """
    campaign.control_members.all().delete()
    LetterPreview.objects.filter(recipient__campaign=campaign).delete()
    # Every relation Django's cascade would follow, hidden ones (related_name="+") included.
    referred = any(
        rel.related_model._base_manager.filter(**{f"{rel.field.name}__campaign": campaign}).exists()
        for rel in get_candidate_relations_to_delete(Recipient._meta)
    )
    if referred:
        campaign.recipients.all().delete()
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Recipient._meta.db_table} WHERE campaign_id = %s", [campaign.id])


def audience_languages(campaign: Campaign) -> plan_sql.Languages:
    """campaigns.locales' language for each kind of contact of the audience, for the set-wise plan."""
    variants = set(campaign.templates.values_list("language", flat=True))

    def language(contact) -> str:
        return locales.person_language(contact=contact, default=campaign.default_language, available=variants)

    return plan_sql.Languages(
        by_contact={
            (lang, country): language(SimpleNamespace(language=lang, country=country))
            for lang, country in plan_sql.contact_languages(campaign=campaign)
        },
        no_contact=language(None),
    )


def audience_erased(campaign: Campaign) -> set[str]:
    """The audience's addresses erased on request (GDPR Art. 17), as privacy.erased_among names them.

    Plain ASCII addresses are hashed by PostgreSQL (only when anyone was ever erased); the others in Python.
    """
    erased = plan_sql.erased_plain(
        campaign=campaign,
        pepper=settings.PRIVACY_PEPPER.encode(),
        domain=privacy.ERASED_DOMAIN,
        hashes=ErasedAddress.objects.exists(),
    )
    others = plan_sql.not_plain(campaign=campaign)
    while chunk := list(islice(others, ERASED_CHUNK)):
        erased |= privacy.erased_among(chunk)
    return erased


def recipients_plan_python(
    *, campaign: Campaign, people, policies: dict[str, Allowed], overrides: dict[str, Recipient], codes: dict
) -> None:
    """Plan and write `people` (ledger rows) a chunk at a time. `codes`: email -> the code an earlier plan gave."""
    taken = set(codes.values())
    stream = people.order_by("id").iterator(chunk_size=PLAN_CHUNK)
    while chunk := list(islice(stream, PLAN_CHUNK)):
        rows = recipients_planned(campaign, chunk, policies, overrides, codes)
        _assign_codes(campaign, rows, taken)
        Recipient.objects.bulk_create(rows, batch_size=2000)


def recipients_planned(
    campaign: Campaign, people: list[AffectedPerson], policies: dict[str, Allowed], overrides: dict, codes: dict
) -> list[Recipient]:
    """Recipient rows for some people of the ledger; plan_sql does the same set-wise."""
    emails = [p.email for p in people]
    contacts = {c.email: c for c in Contact.objects.filter(email__in=emails)}
    suppressed: dict[str, set[str]] = {}
    for s in Suppression.objects.filter(email__in=emails):
        suppressed.setdefault(s.email, set()).add(s.reason)
    # People erased on request (GDPR Art. 17) are never contacted again, by any channel.
    for email in privacy.erased_among(emails):
        suppressed.setdefault(email, set()).add(Suppression.Reason.NEVER_AGAIN)
    already = set()
    if not campaign.allow_follow_up:
        already = set(
            Delivery.objects.filter(incident=campaign.incident, follow_up=False, email__in=emails)
            .exclude(campaign=campaign)
            .values_list("email", flat=True)
        )
    variants = set(campaign.templates.values_list("language", flat=True))

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
        allowed = allowed_for(contact.country if contact else "", policies) if objected else None
        if allowed and channel == Recipient.Channel.LETTER and not allowed.letter:
            channel = Recipient.Channel.NONE
            detail = "; ".join(
                p for p in (detail, f"country rule: no letter ({allowed.reason or 'no reason given'})") if p
            )
        reached = channel != Recipient.Channel.NONE
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
                detail=detail[:300],
                invite_allowed=reached and bool(allowed and allowed.invite),
                gift=channel == Recipient.Channel.LETTER
                and person.tier in campaign.gift_tiers
                and (allowed is None or allowed.gift),
                # The contact's language, else their country's, else the campaign's (campaigns.locales).
                language=locales.person_language(
                    contact=contact, default=campaign.default_language, available=variants
                ),
                short_code=codes.get(person.email) or "",
                override_by=override.override_by if override and reason == Recipient.Reason.OVERRIDE else None,
            )
        )
    return rows


def _assign_codes(campaign: Campaign, rows: list[Recipient], kept: set[str]) -> None:
    """New people get a fresh code: none that an earlier plan gave (`kept`), none already written."""
    pending = [r for r in rows if not r.short_code]
    taken = set(kept)
    while pending:
        for r in pending:
            code = new_short_code()
            while code in taken:
                code = new_short_code()
            r.short_code = code
            taken.add(code)
        fresh = [r.short_code for r in pending]
        met = set(campaign.recipients.filter(short_code__in=fresh).values_list("short_code", flat=True))
        pending = [r for r in pending if r.short_code in met]


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
    if privacy.is_erased(recipient.email):
        suppressed.add(Suppression.Reason.NEVER_AGAIN)
    problem = override_problem(channel, person, recipient.contact, suppressed)
    if problem:
        raise CampaignError(f"Cannot send {recipient.email} an {channel}: {problem}.")
    recipient.channel = channel
    recipient.reason = Recipient.Reason.OVERRIDE
    recipient.detail = note[:300]
    recipient.override_by = user
    objected = person.state != "subscribed" or person.bounced or bool(suppressed)
    allowed = allowed_for(recipient.contact.country if recipient.contact else "", policy_map()) if objected else None
    if allowed and channel == Recipient.Channel.LETTER and not allowed.letter:
        raise CampaignError(f"Cannot send {recipient.email} a letter: the country rule says no ({allowed.reason}).")
    recipient.gift = (
        channel == Recipient.Channel.LETTER and recipient.tier in campaign.gift_tiers and (not allowed or allowed.gift)
    )
    recipient.invite_allowed = channel != Recipient.Channel.NONE and bool(allowed and allowed.invite)
    recipient.save()
    campaign_edited(campaign=campaign, user=user, what=f"channel of {recipient.email} set to {channel}")


def recipients_already_apologised(*, campaign: Campaign) -> int:
    """How many of this campaign's people already have an apology for its incident from another campaign (0 when
    follow-ups are allowed). The database gives no one two (`delivery_once_per_incident`): sending skips them,
    so the marketer and the approver are told before, not by an audit line after."""
    if campaign.allow_follow_up:
        return 0
    earlier = Delivery.objects.filter(incident_id=campaign.incident_id, follow_up=False).exclude(campaign=campaign)
    return campaign.recipients.exclude(channel=Recipient.Channel.NONE).filter(email__in=earlier.values("email")).count()


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

    # Each tier's gift costs its catalogue package, or the campaign's cost per gift without one.
    cost = stock.letters_cost(campaign=campaign).total
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
