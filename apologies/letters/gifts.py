"""The gift catalogue and which package each tier of a campaign gets."""

from __future__ import annotations

from django.db import transaction

from apologies.campaigns import lifecycle
from apologies.campaigns.models import Campaign, CampaignError, Recipient
from apologies.letters.models import GiftAssignment, GiftPackage


def gifts_assign(*, campaign: Campaign, packages: dict[int, GiftPackage | None], user) -> None:
    """Which package the letters of each tier carry (None: no gift). Replaces the previous choice."""
    if not campaign.is_editable:
        raise CampaignError("Sending has started: the gifts can no longer be changed.")
    before = {a.tier: a.package_id for a in campaign.gift_assignments.all()}
    after = {tier: p.id for tier, p in packages.items() if p is not None}
    if before == after and sorted(after) == sorted(campaign.gift_tiers):
        return
    with transaction.atomic():
        campaign.gift_assignments.all().delete()
        GiftAssignment.objects.bulk_create(
            GiftAssignment(campaign=campaign, tier=tier, package=p) for tier, p in packages.items() if p is not None
        )
        campaign.gift_tiers = sorted(after)
        campaign.save(update_fields=["gift_tiers", "updated"])
        campaign.recipients.update(gift=False)
        campaign.recipients.filter(channel=Recipient.Channel.LETTER, tier__in=campaign.gift_tiers).update(gift=True)
        labels = campaign.incident.tier_labels()
        what = ", ".join(
            f"{labels[t] if t < len(labels) else t}: {p.sku}" for t, p in sorted(packages.items()) if p is not None
        )
        lifecycle.campaign_edited(campaign=campaign, user=user, what=f"gift packages: {what or 'none'}")


def gift_add(*, values: dict) -> GiftPackage:
    """A new package in the catalogue: values are the form's (name, sku, items, unit_cost, stock)."""
    return GiftPackage.objects.create(**values)


def gift_save(*, package: GiftPackage, values: dict) -> None:
    """Edit a package; its stock may not drop below what approved campaigns hold."""
    # An UPDATE of the edited fields only, conditional on the reservations: an approval may be running.
    if not GiftPackage.objects.filter(id=package.id, reserved__lte=values["stock"]).update(**values):
        reserved = GiftPackage.objects.get(id=package.id).reserved
        raise CampaignError(f"{reserved:,} are held for approved campaigns: the stock cannot go below that.")
    package.refresh_from_db()
    # A new price or contents is not what the approvers of the campaigns giving this package approved.
    lifecycle.campaigns_recheck(campaigns=Campaign.objects.filter(gift_assignments__package=package).distinct())
