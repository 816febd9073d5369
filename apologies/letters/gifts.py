"""The gift catalogue and which package each tier of a campaign gets."""

from __future__ import annotations

from auditlog.diff import model_instance_diff
from auditlog.models import LogEntry
from django.db import transaction

from apologies.campaigns import lifecycle, planning
from apologies.campaigns.models import Campaign, CampaignError
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
        for tier, package in packages.items():
            if package is not None:
                # One save per tier (a handful), so the audit log records each assignment (bulk_create would not).
                GiftAssignment.objects.create(campaign=campaign, tier=tier, package=package)
        campaign.gift_tiers = sorted(after)
        campaign.save(update_fields=["gift_tiers", "updated"])
        # Who gets a gift is the plan's to say, as when the gift tiers change in the campaign's settings: a letter
        # of a gift tier carries one only where the country rule allows it (planning applies the rule).
        planning.campaign_plan(campaign=campaign)
        labels = campaign.incident.tier_labels()
        what = ", ".join(
            f"{labels[t] if t < len(labels) else t}: {p.sku}" for t, p in sorted(packages.items()) if p is not None
        )
        lifecycle.campaign_edited(campaign=campaign, user=user, what=f"gift packages: {what or 'none'}")


def gift_add(*, values: dict) -> GiftPackage:
    """A new package in the catalogue: values are the form's (name, sku, items, unit_cost, stock)."""
    return GiftPackage.objects.create(**values)


def gift_audit(*, before: GiftPackage, after: GiftPackage) -> None:
    """Record a change of a package written by a conditional UPDATE (which sends no signal) in the audit log, as
    django-auditlog records a save: the changed fields, old -> new, and the acting user (its middleware's)."""
    changes = model_instance_diff(before, after)
    if changes:
        LogEntry.objects.log_create(after, action=LogEntry.Action.UPDATE, changes=changes)


def gift_save(*, package: GiftPackage, values: dict) -> None:
    """Edit a package; its stock may not drop below what approved campaigns hold."""
    with transaction.atomic():
        # Locked (PostgreSQL; SQLite writes one transaction at a time) so the audit's old values are the ones
        # this edit replaces.
        before = GiftPackage.objects.select_for_update().get(id=package.id)
        # An UPDATE of the edited fields only, conditional on the reservations: an approval may be running.
        if not GiftPackage.objects.filter(id=package.id, reserved__lte=values["stock"]).update(**values):
            reserved = GiftPackage.objects.get(id=package.id).reserved
            raise CampaignError(f"{reserved:,} are held for approved campaigns: the stock cannot go below that.")
        package.refresh_from_db()
        gift_audit(before=before, after=package)
    # A new price or contents is not what the approvers of the campaigns giving this package approved.
    lifecycle.campaigns_recheck(campaigns=Campaign.objects.filter(gift_assignments__package=package).distinct())
