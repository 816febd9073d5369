import pytest

from apologies.campaigns import models as campaigns_models
from apologies.campaigns import planning
from apologies.campaigns.control_models import ControlMember
from apologies.models import Campaign, CountryPolicy, Delivery, Recipient
from apologies.tests.factories import IncidentFactory, contact, person
from incidents.models import Suppression

pytestmark = pytest.mark.django_db

C, R = Recipient.Channel, Recipient.Reason


@pytest.fixture
def incident():
    return IncidentFactory()


def plan(incident, author, **kwargs) -> dict[str, Recipient]:
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=author, **kwargs)
    return {r.email: r for r in campaign.recipients.all()}


def test_it_emails_the_subscribed_and_writes_to_those_who_opted_out(incident, marketer):
    person(incident, "sub@example.com")
    person(incident, "unsub@example.com", state="unsubscribed")
    person(incident, "spam@example.com", state="complained")
    person(incident, "bounce@example.com", state="bounced", bounced=True)
    person(incident, "nowhere@example.com", state="complained")
    person(incident, "listed@example.com")
    for email in ["sub", "unsub", "spam", "bounce", "listed"]:
        contact(f"{email}@example.com")
    Suppression.objects.create(email="listed@example.com", reason="never_again")
    people = plan(incident, marketer)
    got = {e: (r.channel, r.reason) for e, r in people.items()}
    assert got == {
        "sub@example.com": (C.EMAIL, R.SUBSCRIBED),
        "unsub@example.com": (C.LETTER, R.UNSUBSCRIBED),
        "spam@example.com": (C.LETTER, R.COMPLAINED),
        "bounce@example.com": (C.LETTER, R.BOUNCED),
        "nowhere@example.com": (C.NONE, R.COMPLAINED),
        "listed@example.com": (C.LETTER, R.SUPPRESSED),
    }
    assert "no postal address" in people["nowhere@example.com"].detail
    assert "never_again" in people["listed@example.com"].detail


def test_it_writes_to_nobody_whose_address_is_invalid(incident, marketer):
    person(incident, "bad@example.com", state="unsubscribed")
    contact("bad@example.com", valid=False)
    r = plan(incident, marketer)["bad@example.com"]
    assert (r.channel, r.reason) == (C.NONE, R.UNSUBSCRIBED)
    assert "postal code not valid" in r.detail


def test_it_invites_back_only_where_the_country_allows(incident, marketer):
    for email, country in [("us@example.com", "US"), ("de@example.com", "DE"), ("gb@example.com", "GB")]:
        person(incident, email, state="unsubscribed")
        contact(email, country=country)
    person(incident, "sub@example.com")
    contact("sub@example.com")
    people = plan(incident, marketer)
    assert {e: r.invite_allowed for e, r in people.items()} == {
        "us@example.com": True,
        "de@example.com": False,
        "gb@example.com": False,
        "sub@example.com": False,  # still subscribed: nothing to invite them back to
    }
    CountryPolicy.objects.filter(country="DE").update(invite_allowed=True)
    campaign = Campaign.objects.get()
    planning.campaign_plan(campaign=campaign)
    assert campaign.recipients.get(email="de@example.com").invite_allowed is True


def test_it_filters_the_audience_by_tier_and_state(incident, marketer):
    person(incident, "one@example.com", messages=1)
    person(incident, "many@example.com", messages=60)
    person(incident, "gone@example.com", messages=60, state="unsubscribed")
    assert set(plan(incident, marketer, tiers=[3])) == {"many@example.com", "gone@example.com"}
    assert set(plan(incident, marketer, tiers=[3], states=["subscribed"])) == {"many@example.com"}


def test_it_gives_everyone_a_distinct_code_without_look_alikes(incident, marketer):
    for i in range(200):
        person(incident, f"p{i}@example.com")
    codes = [r.short_code for r in plan(incident, marketer).values()]
    assert len(set(codes)) == 200
    assert all(len(c) == 9 and c[4] == "-" for c in codes)
    assert not set("".join(codes)) & set("01ILO")


def test_it_keeps_codes_when_planned_again(incident, marketer):
    person(incident, "a@example.com")
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    code = campaign.recipients.get().short_code
    planning.campaign_plan(campaign=campaign)
    assert campaign.recipients.get().short_code == code


def test_it_never_lets_an_override_email_a_suppressed_address(incident, marketer):
    person(incident, "listed@example.com")
    person(incident, "unsub@example.com", state="unsubscribed")
    contact("unsub@example.com")
    Suppression.objects.create(email="listed@example.com", reason="manual")
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    listed = campaign.recipients.get(email="listed@example.com")
    with pytest.raises(campaigns_models.CampaignError, match="suppression list"):
        planning.recipient_override(recipient=listed, channel=C.EMAIL, note="", user=marketer)
    unsub = campaign.recipients.get(email="unsub@example.com")
    with pytest.raises(campaigns_models.CampaignError, match="unsubscribed"):
        planning.recipient_override(recipient=unsub, channel=C.EMAIL, note="", user=marketer)
    planning.recipient_override(recipient=unsub, channel=C.NONE, note="asked by phone", user=marketer)
    planning.campaign_plan(campaign=campaign)
    unsub = campaign.recipients.get(email="unsub@example.com")
    assert (unsub.channel, unsub.reason, unsub.detail) == (C.NONE, R.OVERRIDE, "asked by phone")


def test_it_leaves_out_people_an_earlier_campaign_apologised_to(incident, marketer):
    person(incident, "a@example.com")
    person(incident, "b@example.com")
    first = planning.campaign_create(incident=incident, name="first", author=marketer)
    Delivery.objects.create(
        campaign=first,
        recipient=first.recipients.get(email="a@example.com"),
        incident=incident,
        email="a@example.com",
        channel=C.EMAIL,
    )
    second = plan(incident, marketer)
    assert (second["a@example.com"].channel, second["a@example.com"].reason) == (C.NONE, R.ALREADY)
    follow_up = plan(incident, marketer, allow_follow_up=True)
    assert follow_up["a@example.com"].channel == C.EMAIL


def test_it_counts_channels_reasons_tiers_and_cost(incident, marketer):
    person(incident, "a@example.com", messages=60, state="unsubscribed")
    person(incident, "b@example.com", messages=3, state="unsubscribed")
    person(incident, "c@example.com")
    contact("a@example.com")
    contact("b@example.com")
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer, gift_tiers=[3])
    counts = planning.campaign_counts(campaign=campaign)
    assert counts["by_channel"] == {"email": 1, "letter": 2, "none": 0}
    assert counts["gifts"] == 1
    assert counts["cost"] == 2 * campaign.cost_per_letter + campaign.cost_per_gift
    assert {(r["channel"], r["reason"], r["n"]) for r in counts["by_reason"]} == {
        ("email", "subscribed", 1),
        ("letter", "unsubscribed", 2),
    }
    tier3 = next(t for t in counts["by_tier"] if t["label"] == "50+")
    assert tier3["letter"] == 1


def test_it_clears_the_control_group_and_what_refers_to_recipients_when_planned_again(incident, marketer):
    person(incident, "a@example.com")
    person(incident, "b@example.com")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    a, b = campaign.recipients.order_by("email")
    ControlMember.objects.create(campaign=campaign, recipient=a, email=a.email)
    planning.campaign_plan(campaign=campaign)  # set-wise: only the control group refers to them
    assert not ControlMember.objects.exists()
    assert set(campaign.recipients.values_list("email", flat=True)) == {"a@example.com", "b@example.com"}

    b = campaign.recipients.get(email="b@example.com")
    Delivery.objects.create(campaign=campaign, recipient=b, incident=incident, email=b.email, channel=b.channel)
    planning.campaign_plan(campaign=campaign)  # through Django's cascade
    assert not Delivery.objects.filter(campaign=campaign).exists()
    assert campaign.recipients.count() == 2
