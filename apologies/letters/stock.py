"""The budget and the gift stock of a campaign's letters: one cost rule, reserved on approval, spent when mailed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Greatest

from apologies.campaigns.audit import audit_add
from apologies.campaigns.models import Campaign, CampaignError, Recipient
from apologies.letters.models import GiftPackage, GiftReservation, LetterSettings
from apologies.sending.models import Delivery


@dataclass
class GiftLine:
    tier: int
    label: str
    package: GiftPackage | None  # None: a gift without a catalogue package, at the campaign's cost per gift
    quantity: int
    unit_cost: Decimal

    @property
    def cost(self) -> Decimal:
        return self.unit_cost * self.quantity


@dataclass
class LetterCost:
    letters: int
    per_letter: Decimal
    gifts: list[GiftLine]
    budget: Decimal | None

    @property
    def letters_cost(self) -> Decimal:
        return self.per_letter * self.letters

    @property
    def gifts_cost(self) -> Decimal:
        return sum((g.cost for g in self.gifts), Decimal("0"))

    @property
    def gift_count(self) -> int:
        return sum(g.quantity for g in self.gifts)

    @property
    def total(self) -> Decimal:
        return (self.letters_cost + self.gifts_cost).quantize(Decimal("0.01"))

    @property
    def over_budget(self) -> Decimal:
        if self.budget is None:
            return Decimal("0")
        return max(Decimal("0"), self.total - self.budget)

    def package_needs(self) -> dict[int, int]:
        needs: Counter[int] = Counter()
        for g in self.gifts:
            if g.package is not None:
                needs[g.package.id] += g.quantity
        return dict(needs)


def letters_cost(*, campaign: Campaign, rendered_only: bool = False) -> LetterCost:
    """What the letters cost: postage and print per letter, plus each tier's gift package (else the flat price).

    The one cost rule of Amends: approval reserves it for every planned letter; the letters page and the
    results count it spent (`rendered_only`) for letters rendered into a batch for the mail house, or mailed.
    """
    letters = campaign.recipients.filter(channel=Recipient.Channel.LETTER)
    if rendered_only:
        letters = letters.filter(
            Q(deliveries__letter__isnull=False) | Q(deliveries__status=Delivery.Status.SENT)
        ).distinct()
    per_tier = Counter(dict(letters.filter(gift=True).values_list("tier").annotate(n=Count("id")).order_by()))
    packages = {a.tier: a.package for a in campaign.gift_assignments.select_related("package")}
    labels = campaign.incident.tier_labels()
    gifts = [
        GiftLine(
            tier=tier,
            label=labels[tier] if tier < len(labels) else str(tier),
            package=packages.get(tier),
            quantity=n,
            unit_cost=packages[tier].unit_cost if tier in packages else campaign.cost_per_gift,
        )
        for tier, n in sorted(per_tier.items())
    ]
    ls = LetterSettings.objects.filter(campaign=campaign).first()
    return LetterCost(
        letters=letters.count(), per_letter=campaign.cost_per_letter, gifts=gifts, budget=ls.budget if ls else None
    )


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


def stock_reserve(*, campaign: Campaign, user=None) -> None:
    """On approval: hold the gift packages and the budget. Refuses, saying by how much, when either is short."""
    with transaction.atomic():
        _release(campaign)  # a renewed approval reserves afresh
        cost = letters_cost(campaign=campaign)
        problems = []
        if cost.over_budget:
            problems.append(
                f"letters and gifts cost {money(cost.total)}, {money(cost.over_budget)} over the budget of "
                f"{money(cost.budget)}"
            )
        for package_id, quantity in sorted(cost.package_needs().items()):
            # Conditional on what is left, so two approvals at once cannot both take the last boxes.
            held = GiftPackage.objects.filter(id=package_id, stock__gte=F("reserved") + quantity).update(
                reserved=F("reserved") + quantity
            )
            if held:
                GiftReservation.objects.create(campaign=campaign, package_id=package_id, quantity=quantity)
            else:
                package = GiftPackage.objects.get(id=package_id)
                problems.append(
                    f"{quantity:,} x {package.name} ({package.sku}) needed but {max(0, package.available):,} "
                    f"available: {quantity - max(0, package.available):,} short"
                )
        if problems:
            # Raised inside the transaction: nothing stays reserved.
            raise CampaignError("Cannot approve: " + "; ".join(problems) + ".")
        if cost.letters:
            LetterSettings.objects.update_or_create(
                campaign=campaign,
                defaults={"budget_reserved": cost.total},
                # A row made here must read as the settings did before it existed (the approval covers them).
                create_defaults={
                    "budget_reserved": cost.total,
                    "return_address": LetterSettings.unsaved_default(campaign).return_address,
                },
            )
        held = ", ".join(f"{g.quantity:,} x {g.package.sku}" for g in cost.gifts if g.package)
        if held:
            audit_add(campaign, user, "gifts reserved", f"{held}; letters and gifts {money(cost.total)}")


def stock_release(*, campaign: Campaign, user=None) -> None:
    """The approval is gone (edited, cancelled): give back what it held."""
    with transaction.atomic():
        if _release(campaign):
            audit_add(campaign, user, "gifts released", "the packages held for this campaign were given back")


def _release(campaign: Campaign) -> bool:
    """Give back the campaign's packages and budget; True when packages were held."""
    released = False
    for r in GiftReservation.objects.filter(campaign=campaign):
        GiftPackage.objects.filter(id=r.package_id).update(reserved=Greatest(F("reserved") - r.quantity, 0))
        released = True
    GiftReservation.objects.filter(campaign=campaign).delete()
    LetterSettings.objects.filter(campaign=campaign).update(budget_reserved=None)
    return released
