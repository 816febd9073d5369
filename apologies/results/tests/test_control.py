"""Tests of apologised vs control: counts from the records, a statsmodels interval, and "too few to tell"."""

from datetime import timedelta

import pytest
from django.utils import timezone
from statsmodels.stats.proportion import confint_proportions_2indep

from apologies.models import Campaign, ControlMember, Delivery
from apologies.results.control import compare, control_results
from apologies.tests.factories import IncidentFactory, person
from incidents.models import SuppressionChange

pytestmark = pytest.mark.django_db


def test_it_gives_the_difference_with_a_newcombe_interval():
    row = compare(30, 100, 10, 100)
    low, high = confint_proportions_2indep(30, 100, 10, 100, method="newcomb", compare="diff")
    assert (row["apologised_rate"], row["control_rate"], row["difference"]) == (30.0, 10.0, 20.0)
    assert (row["ci_low"], row["ci_high"]) == (round(100 * low, 2), round(100 * high, 2))
    assert row["ci_low"] > 0
    assert row["verdict"] == "more among the apologised"
    assert compare(10, 100, 30, 100)["verdict"] == "fewer among the apologised"
    assert compare(11, 100, 10, 100)["verdict"] == "no clear difference"


def test_it_says_plainly_when_the_numbers_are_too_small():
    assert compare(2, 10, 0, 10)["verdict"] == "too few to tell"
    assert compare(1, 500, 2, 500)["verdict"] == "too few to tell"  # 3 events in all


def group(campaign, n, prefix, *, sent):
    rows = []
    for i in range(n):
        email = f"{prefix}{i}@example.com"
        r = campaign.recipients.create(
            email=email,
            messages=1,
            first_at=timezone.now(),
            last_at=timezone.now(),
            max_in_10_min=1,
            state="subscribed",
            tier=0,
            channel="email",
            reason="subscribed",
            short_code=f"{prefix[:2].upper()}{i:02d}-AAAA",
        )
        if sent:
            Delivery.objects.create(
                campaign=campaign, recipient=r, incident=campaign.incident, email=email, channel="email", status="sent"
            )
        else:
            ControlMember.objects.create(campaign=campaign, recipient=r, email=email)
        rows.append(email)
    return rows


def test_it_counts_outcomes_of_both_groups_since_the_start(marketer):
    incident = IncidentFactory()
    person(incident, "x@example.com")
    campaign = Campaign.objects.create(incident=incident, name="c", author=marketer)
    assert control_results(campaign=campaign) is None
    Campaign.objects.filter(id=campaign.id).update(started_at=timezone.now() - timedelta(days=1))
    campaign.refresh_from_db()
    apologised = group(campaign, 40, "ap", sent=True)
    control = group(campaign, 40, "co", sent=False)
    for email in apologised[:12]:
        SuppressionChange.objects.create(email=email, reason="unsubscribed", action="lifted")
    for email in control[:2]:
        SuppressionChange.objects.create(email=email, reason="unsubscribed", action="lifted")
    SuppressionChange.objects.create(email=control[5], reason="unsubscribed", action="added")
    # Before the start, and someone outside both groups: not counted.
    SuppressionChange.objects.create(
        email=control[6], reason="unsubscribed", action="added", at=timezone.now() - timedelta(days=3)
    )
    SuppressionChange.objects.create(email="stranger@example.com", reason="complained", action="added")
    result = control_results(campaign=campaign)
    rows = {r["outcome"]: r for r in result["rows"]}
    assert (result["apologised"], result["control"]) == (40, 40)
    assert (rows["resignups"]["apologised"], rows["resignups"]["control"]) == (12, 2)
    assert rows["resignups"]["verdict"] == "more among the apologised"
    assert (rows["unsubscribes"]["apologised"], rows["unsubscribes"]["control"]) == (0, 1)
    assert rows["unsubscribes"]["verdict"] == "too few to tell"
    assert rows["complaints"]["apologised"] + rows["complaints"]["control"] == 0
    assert "Differences are apologised minus control" in result["summary"]


def test_it_shows_the_comparison_on_the_results_page(marketer, marketer_client):
    incident = IncidentFactory()
    campaign = Campaign.objects.create(incident=incident, name="c", author=marketer, started_at=timezone.now())
    group(campaign, 3, "ap", sent=True)
    group(campaign, 3, "co", sent=False)
    page = marketer_client.get(f"/campaigns/{campaign.id}/results/").content.decode()
    assert "Apologised vs control" in page
    assert "too small to tell" in page
