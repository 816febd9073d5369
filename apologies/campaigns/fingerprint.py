"""What an approval covers: a fingerprint of everything that reaches a recipient or the budget, part by part.

An approver approves words, people, prices and rules as they were at that moment. The fingerprint is a
SHA-256 per part (the campaign's settings, the incident's words and tiers, the templates, the brand, the country
rules, the gift packages and prices, the letter settings, the recipient list), stored on approval and
compared when sending or rendering starts, before every batch, and whenever a covered row is saved. A
part that differs names what changed; the campaign goes back to draft (or pauses, once sending).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from django.conf import settings
from django.db import models

from apologies.campaigns.models import Campaign, CampaignTemplate, CountryPolicy
from apologies.letters.models import GiftAssignment, LetterSettings
from incidents.models import Incident

# Fields that change as a campaign lives (its status, its approval, its progress): not what was approved.
CAMPAIGN_VOLATILE = {
    "id",
    "status",
    "author",
    "approved_by",
    "approved_at",
    "approved_parts",
    "paused_reason",
    "consecutive_errors",
    "planned_at",
    "started_at",
    "finished_at",
    "created",
    "updated",
    "seed_list",
    "approval_max_age_hours",
    "wave_released",
    "wave_released_at",
}
# The incident's fields that the words quote (see campaigns.words.values_for).
INCIDENT_WORDS = ("title", "what_happened", "fix", "root_cause", "started_at", "ended_at")
# The incident's tier bounds: recipients keep a tier number, whose label, audience, gift and variant they decide.
INCIDENT_TIERS = ("tier_bounds",)
GIFT_FIELDS = ("name", "sku", "items", "unit_cost")
BRAND_SETTINGS = ("AMENDS_BRAND_NAME", "AMENDS_BRAND_LOGO", "AMENDS_BRAND_COLOR", "AMENDS_FROM_ADDRESS")
RECIPIENT_FIELDS = ("email", "channel", "gift", "invite_allowed", "tier", "language", "contact_id")

# The parts, in the order they are named to people.
PARTS = {
    "settings": "the campaign's settings",
    "incident": "the incident's words (what happened, the fix)",
    "tiers": "the incident's tiers (the messages each tier counts)",
    "templates": "the apology's words",
    "brand": "the brand",
    "country_rules": "the country rules",
    "gifts": "the gift packages and their prices",
    "letters": "the letter settings",
    "recipients": "who receives it and how",
}
WORDS_PARTS = ("settings", "incident", "tiers", "templates", "brand", "country_rules", "gifts", "letters")


def digest(rows: Iterable) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(json.dumps(row, sort_keys=True, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()


def fields_of(obj: models.Model, *, exclude: set[str] = frozenset(), only: Iterable[str] | None = None) -> dict:
    names = only if only is not None else [f.name for f in obj._meta.concrete_fields if f.name not in exclude]
    return {name: getattr(obj, obj._meta.get_field(name).attname) for name in names}


# A variant's own words (campaigns.words.values_for): blank means the incident's and the campaign's, which their
# own parts cover. Left out while blank, so approvals given before variants had them still match.
TEMPLATE_OWN_WORDS = ("what_happened", "the_fix", "sender_name")


def template_words(template: CampaignTemplate) -> dict:
    """Everything of a template that reaches people: all its fields, its own words whenever it gives them."""
    row = fields_of(template, exclude={"id", "campaign", "created", "updated"})
    return {name: value for name, value in row.items() if name not in TEMPLATE_OWN_WORDS or value}


def campaign_fingerprint(*, campaign: Campaign, recipients: bool = True) -> dict[str, str]:
    """{part: sha256 hex} for every part of PARTS; without `recipients`, the cheap parts only (per batch)."""
    # Read from the database, not from objects in memory: the approval is of what is stored.
    stored = Campaign.objects.get(pk=campaign.pk)
    incident = Incident.objects.get(pk=campaign.incident_id)
    parts = {
        "settings": digest([fields_of(stored, exclude=CAMPAIGN_VOLATILE)]),
        "incident": digest([fields_of(incident, only=INCIDENT_WORDS)]),
        "tiers": digest([fields_of(incident, only=INCIDENT_TIERS)]),
        "templates": digest(template_words(t) for t in campaign.templates.order_by("language", "tier", "id")),
        "brand": digest([{name: getattr(settings, name, "") for name in BRAND_SETTINGS}]),
        "country_rules": digest(
            fields_of(p, exclude={"id", "updated", "created"}) for p in CountryPolicy.objects.order_by("country")
        ),
        "gifts": digest(
            {"tier": a.tier, **fields_of(a.package, only=GIFT_FIELDS)}
            for a in GiftAssignment.objects.filter(campaign=campaign).select_related("package").order_by("tier")
        ),
        # Settings are created with their defaults when first read: the defaults are what a missing row means.
        "letters": digest(
            [
                fields_of(
                    LetterSettings.objects.filter(campaign=campaign).first()
                    or LetterSettings.unsaved_default(campaign),
                    exclude={"id", "campaign", "created", "updated", "budget_reserved"},
                )
            ]
        ),
    }
    if recipients:
        rows = campaign.recipients.order_by("id").values_list(*RECIPIENT_FIELDS)
        parts["recipients"] = digest(list(r) for r in rows.iterator(chunk_size=5000))
    return parts


def changed_parts(*, campaign: Campaign, recipients: bool = True) -> list[str]:
    """What differs from the approval, in words ("the incident's words", …); [] when nothing (or no approval)."""
    approved = campaign.approved_parts or {}
    if not approved:
        return []
    now = campaign_fingerprint(campaign=campaign, recipients=recipients)
    return [PARTS[part] for part, value in now.items() if approved.get(part) != value]
