"""Gift packages and budget: what the letters cost, what approval holds, and what it refuses."""

from __future__ import annotations

from decimal import Decimal

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.urls import reverse

from apologies.campaigns import lifecycle, planning
from apologies.campaigns import models as campaigns_models
from apologies.letters import gifts, layout, stock
from apologies.letters import services as letter_batches
from apologies.models import Campaign, GiftPackage, GiftReservation
from apologies.sending import services as sending
from apologies.tests.letters_factories import letter_campaign
from incidents.auditlog.services import Filters, audit_search

pytestmark = pytest.mark.django_db

SENDER = "Amends Inc.\n500 Market St\nSan Francisco, CA 94105"


def rose(stock: int = 100, unit_cost: str = "8.00") -> GiftPackage:
    return GiftPackage.objects.create(
        name="Rose box",
        sku="ROSE-01",
        items="chocolate rose\nsqueezable can",
        unit_cost=Decimal(unit_cost),
        stock=stock,
    )


def submitted(
    marketer, *, people: int = 3, messages: int = 12, budget: str | None = None, package=None, prefix: str = "p"
) -> Campaign:
    """A submitted campaign of `people` letters in one tier (12 messages: tier 10-49), that tier's package."""
    campaign = letter_campaign(
        marketer, people={f"{prefix}{i}@example.com": {"messages": messages} for i in range(people)}, start=False
    )
    if package is not None:
        gifts.gifts_assign(campaign=campaign, packages={campaign.incident.tier_for(messages): package}, user=marketer)
    ls = layout.letter_settings(campaign)
    ls.return_address, ls.budget = SENDER, Decimal(budget) if budget else None
    ls.save()
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    return campaign


def test_it_costs_letters_plus_each_tiers_package(marketer):
    package = rose(unit_cost="8.00")
    campaign = letter_campaign(
        marketer,
        people={
            "a@example.com": {"messages": 12},
            "b@example.com": {"messages": 15},
            "c@example.com": {"messages": 60},
            "d@example.com": {"messages": 1},
        },
        start=False,
        gift_tiers=[3],  # 50+: a gift chosen in Settings, no package yet: the campaign's cost per gift
    )
    gifts.gifts_assign(campaign=campaign, packages={2: package, 3: None}, user=marketer)
    campaign.refresh_from_db()
    # The catalogue's choice replaces the Settings tick: tier 3 no longer carries a gift.
    assert campaign.gift_tiers == [2]
    assert sorted(campaign.recipients.filter(gift=True).values_list("email", flat=True)) == [
        "a@example.com",
        "b@example.com",
    ]
    cost = stock.letters_cost(campaign=campaign)
    assert (cost.letters, cost.gift_count, cost.total) == (4, 2, Decimal("22.00"))  # 4 x 1.50 + 2 x 8.00
    assert planning.campaign_counts(campaign=campaign)["cost"] == Decimal("22.00")

    campaign.gift_tiers = [2, 3]
    campaign.save()
    planning.campaign_plan(campaign=campaign)
    cost = stock.letters_cost(campaign=campaign)
    assert [(g.label, g.package, g.quantity, g.unit_cost) for g in cost.gifts] == [
        ("10-49", package, 2, Decimal("8.00")),
        ("50+", None, 1, Decimal("12.00")),
    ]
    assert planning.campaign_counts(campaign=campaign)["cost"] == Decimal("34.00")


def test_it_refuses_approval_over_budget_saying_by_how_much(marketer, approver):
    campaign = submitted(marketer, people=3, budget="20.00", package=rose(unit_cost="8.00"))  # 3 x 9.50 = 28.50
    with pytest.raises(campaigns_models.CampaignError) as refused:
        lifecycle.campaign_approve(campaign=campaign, user=approver)
    assert str(refused.value) == "Cannot approve: letters and gifts cost 28.50, 8.50 over the budget of 20.00."
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SUBMITTED and campaign.approved_by is None
    assert GiftPackage.objects.get().reserved == 0 and not GiftReservation.objects.exists()


def test_it_refuses_approval_without_enough_stock_saying_how_many_short(marketer, approver):
    campaign = submitted(marketer, people=3, package=rose(stock=1))
    with pytest.raises(
        campaigns_models.CampaignError, match=r"3 x Rose box \(ROSE-01\) needed but 1 available: 2 short"
    ):
        lifecycle.campaign_approve(campaign=campaign, user=approver)
    assert GiftPackage.objects.get().reserved == 0


def test_it_holds_stock_for_one_approval_at_a_time(marketer, approver):
    package = rose(stock=5)
    first = submitted(marketer, people=3, package=package)
    second = submitted(marketer, people=3, package=package, prefix="q")
    lifecycle.campaign_approve(campaign=first, user=approver)
    with pytest.raises(campaigns_models.CampaignError, match="3 x Rose box .* needed but 2 available: 1 short"):
        lifecycle.campaign_approve(campaign=second, user=approver)
    package.refresh_from_db()
    assert (package.stock, package.reserved, package.available) == (5, 3, 2)
    # Renewing an approval holds the same boxes again, not three more.
    lifecycle.campaign_approve(campaign=first, user=approver)
    package.refresh_from_db()
    assert package.reserved == 3
    assert list(GiftReservation.objects.values_list("campaign_id", "quantity")) == [(first.id, 3)]


def test_it_reserves_on_approval_and_gives_back_on_edit_and_cancel(marketer, approver):
    package = rose(stock=10)
    campaign = submitted(marketer, people=3, budget="100.00", package=package)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    package.refresh_from_db()
    assert package.reserved == 3
    assert layout.letter_settings(campaign).budget_reserved == Decimal("28.50")
    assert campaign.audit.filter(action="gifts reserved", detail__startswith="3 x ROSE-01").exists()

    template = campaign.templates.get()
    template.letter_body += "<p>P.S. Sorry again.</p>"
    lifecycle.template_save(template=template, user=marketer)
    campaign.refresh_from_db()
    package.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT and package.reserved == 0
    assert layout.letter_settings(campaign).budget_reserved is None

    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    lifecycle.campaign_cancel(campaign=campaign, user=approver)
    package.refresh_from_db()
    assert package.reserved == 0 and not GiftReservation.objects.exists()


def test_it_returns_an_approved_campaign_to_draft_when_gifts_or_budget_change(marketer, approver):
    package = rose()
    campaign = submitted(marketer, people=2, package=package)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    gifts.gifts_assign(campaign=campaign, packages={2: None}, user=marketer)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert campaign.audit.filter(action="edited", detail="gift packages: none").exists()

    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    layout.letter_settings_save(campaign=campaign, values={"budget": Decimal("50.00")}, user=marketer)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_it_takes_mailed_gifts_out_of_stock(marketer, approver, django_capture_on_commit_callbacks):
    package = rose(stock=10)
    campaign = submitted(marketer, people=3, package=package)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    sending.campaign_start(campaign=campaign, user=approver)
    campaign.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        [batch] = letter_batches.batches_create(campaign=campaign, user=approver).batches
    batch.refresh_from_db()
    assert list(batch.letters.values_list("gift_sku", flat=True)) == ["ROSE-01"] * 3

    letter_batches.batch_mailed(batch=batch, on=batch.created.date(), user=approver)
    package.refresh_from_db()
    assert (package.stock, package.reserved) == (7, 0)
    assert not GiftReservation.objects.exists()


def test_it_keeps_stock_at_or_above_what_is_held(marketer, approver):
    package = rose(stock=10)
    campaign = submitted(marketer, people=3, package=package)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    with pytest.raises(campaigns_models.CampaignError, match="3 are held"):
        gifts.gift_save(package=package, values={"stock": 2})
    gifts.gift_save(package=package, values={"stock": 3})
    package.refresh_from_db()
    assert (package.stock, package.reserved) == (3, 3)
    campaign.refresh_from_db()
    assert campaign.status == "approved"  # stock is not what the approver approved: prices and contents are


def test_it_returns_an_approved_campaign_to_draft_when_its_gift_price_rises(marketer, approver):
    package = rose(stock=10)
    campaign = submitted(marketer, people=3, package=package)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    gifts.gift_save(package=package, values={"stock": 10, "unit_cost": Decimal("99.00")})
    campaign.refresh_from_db()
    package.refresh_from_db()
    assert campaign.status == "draft" and package.reserved == 0  # the approval's hold is given back
    audit = list(campaign.audit.values_list("action", "detail"))
    assert any("gift packages and their prices" in detail for action, detail in audit if action == "edited")


def test_it_never_gives_a_gift_to_a_letter_whose_country_rule_forbids_one(marketer_client, marketer):
    package = rose()
    campaign = letter_campaign(
        marketer,
        people={
            "us@example.com": {"messages": 12},
            "gb@example.com": {"messages": 12, "country": "GB"},
            "de@example.com": {"messages": 12, "country": "DE"},
            "es@example.com": {"messages": 12, "country": "ES"},
        },
        start=False,
    )
    # Saved on the letters page as a marketer would, then again with the tier unchanged but the rule changed.
    url = reverse("apologies:letters_gifts", args=[campaign.id])
    assert marketer_client.post(url, {"tier_2": package.id}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.gift_tiers == [2] and campaign.recipients.filter(channel="letter").count() == 4
    assert list(campaign.recipients.filter(gift=True).values_list("email", flat=True)) == ["us@example.com"]
    cost = stock.letters_cost(campaign=campaign)
    assert (cost.letters, cost.gift_count) == (4, 1)
    page = marketer_client.get(reverse("apologies:letters", args=[campaign.id])).content.decode()
    assert '<span class="big">1</span> gifts' in page
    assert planning.campaign_counts(campaign=campaign)["gifts"] == 1

    # The rule is read when the gifts are saved: a country that allows gifts gets them, the others still do not.
    planning.policy_save(country="GB", gift_allowed=True)
    gifts.gifts_assign(campaign=campaign, packages={2: None}, user=marketer)
    gifts.gifts_assign(campaign=campaign, packages={2: package}, user=marketer)
    assert sorted(campaign.recipients.filter(gift=True).values_list("email", flat=True)) == [
        "gb@example.com",
        "us@example.com",
    ]


def test_it_audits_every_gift_package_edit_with_its_old_and_new_values(marketer_client, marketer, approver):
    package = rose(stock=10, unit_cost="8.00")
    form = {"name": "Rose box", "sku": "ROSE-01", "items": "chocolate rose", "unit_cost": "9.50", "stock": 10}
    assert marketer_client.post(reverse("apologies:gift_edit", args=[package.id]), form).status_code == 302
    [entry] = LogEntry.objects.get_for_object(package).filter(action=LogEntry.Action.UPDATE)
    assert entry.actor == marketer
    assert entry.changes_dict == {
        "unit_cost": ["8.00", "9.50"],
        "items": ["chocolate rose\nsqueezable can", "chocolate rose"],
    }
    rows, _ = audit_search(filters=Filters(action="giftpackage.updated"))
    assert [row.username for row in rows] == ["maya"]
    assert "unit_cost: 8.00 → 9.50" in rows[0].detail

    # A refused edit (the conditional write found the stock held) records nothing.
    campaign = submitted(marketer, people=3, package=package)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    with pytest.raises(campaigns_models.CampaignError, match="3 are held"):
        gifts.gift_save(package=package, values={"stock": 2, "unit_cost": Decimal("1.00")})
    assert LogEntry.objects.get_for_object(package).filter(action=LogEntry.Action.UPDATE).count() == 1


def test_it_audits_the_stock_that_mailed_letters_take(marketer, approver, django_capture_on_commit_callbacks):
    package = rose(stock=10)
    campaign = submitted(marketer, people=3, package=package)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    sending.campaign_start(campaign=campaign, user=approver)
    campaign.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        [batch] = letter_batches.batches_create(campaign=campaign, user=approver).batches
    batch.refresh_from_db()
    with set_actor(approver):
        letter_batches.batch_mailed(batch=batch, on=batch.created.date(), user=approver)
    [entry] = LogEntry.objects.get_for_object(package).filter(action=LogEntry.Action.UPDATE)
    assert entry.changes_dict == {"stock": ["10", "7"]} and entry.actor == approver
