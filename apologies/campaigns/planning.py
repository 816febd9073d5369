"""Planning a campaign: its audience, a channel for every person with the reason, overrides and counts."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from apologies.campaigns.audit import audit_add
from apologies.campaigns.lifecycle import campaign_edited
from apologies.campaigns.models import (
    CODE_ALPHABET,
    CODE_LENGTH,
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
from apologies.sending.models import Delivery
from incidents.models import AffectedPerson, Contact, Suppression


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
        audit_add(campaign, author, "created", f"audience: {audience_label(campaign)}")
        campaign_plan(campaign=campaign)
    return campaign


def audience_label(campaign: Campaign) -> str:
    labels = campaign.incident.tier_labels()
    tiers = ", ".join(labels[t] for t in campaign.audience_tiers if t < len(labels)) or "every tier"
    states = ", ".join(campaign.audience_states) or "every state"
    return f"{tiers}; {states}"


# People are planned this many at a time: memory stays flat however large the audience.
PLAN_CHUNK = 5000
RECIPIENT_COLUMNS = (
    "campaign_id",
    "email",
    "contact_id",
    "messages",
    "first_at",
    "last_at",
    "max_in_10_min",
    "state",
    "tier",
    "channel",
    "reason",
    "detail",
    "invite_allowed",
    "gift",
    "language",
    "short_code",
    "override_by_id",
)


class PersonFacts(NamedTuple):
    """What planning reads of one ledger row."""

    email: str
    messages: int
    first_at: datetime
    last_at: datetime
    max_in_10_min: int
    state: str
    tier: int
    bounced: bool


class ContactFacts(NamedTuple):
    """What planning reads of one contact."""

    id: int
    country: str
    language: str
    address_valid: bool
    address_problems: str


def campaign_plan(*, campaign: Campaign) -> Counter:
    """Choose a channel for every person of the audience and record why. Keeps overrides.

    One query streams each person with their contact, suppressions and earlier apology; rows are written a few
    thousand at a time (COPY on PostgreSQL), in one transaction: memory stays flat however large the audience.
    """
    if not campaign.is_editable:
        raise CampaignError("The audience is frozen once sending has started.")
    policies = dict(CountryPolicy.objects.values_list("country", "invite_allowed"))
    overrides = {
        r.email: r for r in campaign.recipients.filter(reason=Recipient.Reason.OVERRIDE).select_related("contact")
    }
    counts: Counter = Counter()
    with transaction.atomic():
        # Codes people were given by an earlier plan stay theirs (a letter may carry one): read before the delete.
        kept = dict(campaign.recipients.exclude(short_code="").values_list("email", "short_code").order_by())
        kept_codes = set(kept.values())
        if kept or campaign.recipients.exists():
            campaign.recipients.all().delete()
        sql, params = _audience_query(campaign)
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            while chunk := cursor.fetchmany(PLAN_CHUNK):
                rows = _plan_rows(campaign, chunk, policies, overrides, kept)
                _insert_recipients(rows, kept_codes)
                counts.update(row[CHANNEL_AT] for row in rows)
        campaign.planned_at = timezone.now()
        campaign.save(update_fields=["planned_at", "updated"])
    return counts


def _audience_query(campaign: Campaign) -> tuple[str, list]:
    """Each person of the audience: PersonFacts, ContactFacts (NULLs without a contact), suppression reasons
    joined by commas, and whether another campaign of the incident apologised already."""
    tables = {m.__name__: m._meta.db_table for m in (AffectedPerson, Contact, Suppression, Delivery)}
    joined = "string_agg(reason, ',')" if connection.vendor == "postgresql" else "group_concat(reason, ',')"
    params: list = []
    already = "0 = 1"
    if not campaign.allow_follow_up:
        already = (
            f"EXISTS (SELECT 1 FROM {tables['Delivery']} d WHERE d.incident_id = p.incident_id "
            "AND d.follow_up = %s AND d.email = p.email AND d.campaign_id <> %s)"
        )
        params += [False, campaign.id]
    where = ["p.incident_id = %s"]
    params.append(campaign.incident_id)
    for column, values in (("tier", campaign.audience_tiers), ("state", campaign.audience_states)):
        if values:
            where.append(f"p.{column} IN ({', '.join(['%s'] * len(values))})")
            params += list(values)
    sql = (
        f"SELECT {', '.join('p.' + f for f in PersonFacts._fields)}, "
        f"c.id, c.country, c.language, c.address_valid, c.address_problems, s.reasons, {already} "
        f"FROM {tables['AffectedPerson']} p LEFT JOIN {tables['Contact']} c ON c.email = p.email "
        f"LEFT JOIN (SELECT email, {joined} AS reasons FROM {tables['Suppression']} GROUP BY email) s "
        f"ON s.email = p.email WHERE {' AND '.join(where)}"
    )
    return sql, params


def _plan_rows(
    campaign: Campaign,
    chunk: list[tuple],
    policies: dict[str, bool],
    overrides: dict[str, Recipient],
    kept: dict[str, str],
) -> list[list]:
    """Recipient rows (RECIPIENT_COLUMNS) for one chunk of _audience_query rows."""
    rows = []
    for row in chunk:
        person = PersonFacts(*row[:8])
        contact = ContactFacts(*row[8:13]) if row[8] is not None else None
        blocked = set(row[13].split(",")) if row[13] else set()
        email = person.email
        channel, reason, detail = plan_channel(person, contact, blocked, bool(row[14]))
        objected = reason != Recipient.Reason.SUBSCRIBED
        override = overrides.get(email)
        if override and override_problem(override.channel, person, contact, blocked) is None:
            channel, reason, detail = override.channel, Recipient.Reason.OVERRIDE, override.detail
        rows.append(
            [
                campaign.id,
                email,
                contact.id if contact else None,
                person.messages,
                person.first_at,
                person.last_at,
                person.max_in_10_min,
                person.state,
                person.tier,
                channel,
                reason,
                detail,
                bool(objected and invite_allowed_for(contact.country if contact else "", policies)),
                bool(channel == Recipient.Channel.LETTER and person.tier in campaign.gift_tiers),
                contact.language if contact and contact.language else campaign.default_language,
                kept.get(email, ""),
                override.override_by_id if override and reason == Recipient.Reason.OVERRIDE else None,
            ]
        )
    return rows


# Random bytes to code letters: 248 = 8 x 31, so each letter comes from 8 byte values (uniform); 248-255 are dropped.
CODE_BYTES = bytes(ord(CODE_ALPHABET[b % len(CODE_ALPHABET)]) if b < 248 else 0 for b in range(256))
CODE_DROP = bytes(range(248, 256))


def fresh_codes(n: int) -> list[str]:
    """`n` random short codes like new_short_code()'s, drawn a chunk at a time."""
    letters = b""
    while len(letters) < n * CODE_LENGTH:
        letters += secrets.token_bytes(n * CODE_LENGTH + 64).translate(CODE_BYTES, CODE_DROP)
    text = letters.decode()
    half = CODE_LENGTH // 2
    return [f"{text[i : i + half]}-{text[i + half : i + CODE_LENGTH]}" for i in range(0, n * CODE_LENGTH, CODE_LENGTH)]


CODE_AT = RECIPIENT_COLUMNS.index("short_code")
CHANNEL_AT = RECIPIENT_COLUMNS.index("channel")


def _insert_recipients(rows: list[list], kept_codes: set[str]) -> None:
    """Write one chunk; a fresh code that another recipient of the campaign already has is drawn again."""
    fresh = [row for row in rows if not row[CODE_AT]]
    for _ in range(10):
        for row, code in zip(fresh, fresh_codes(len(fresh)), strict=True):
            while code in kept_codes:
                code = new_short_code()
            row[CODE_AT] = code
        try:
            with transaction.atomic():
                _write_rows(Recipient._meta.db_table, RECIPIENT_COLUMNS, rows)
            return
        except IntegrityError:
            # Two fresh codes met (about once in a million people): draw this chunk's fresh codes again.
            if not fresh:
                raise
    raise CampaignError("Could not draw unique short codes for this audience.")


def _write_rows(table: str, columns: tuple[str, ...], rows: list[list]) -> None:
    with connection.cursor() as cursor, connection.wrap_database_errors:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)


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
