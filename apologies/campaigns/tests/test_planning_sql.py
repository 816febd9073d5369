"""Planning set-wise (PostgreSQL) gives every person the row the Python planner gives them, rule by rule."""

import pytest
from django.db import connection

from apologies.campaigns import plan_sql, planning
from apologies.models import Campaign, CountryPolicy, Delivery, Recipient
from apologies.privacy.models import ErasedAddress
from apologies.privacy.services import email_hash
from apologies.tests.factories import IncidentFactory, contact, person
from incidents.models import Contact, Suppression

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the set-wise planner runs on PostgreSQL only"),
]

FIELDS = (
    "contact_id",
    "messages",
    "state",
    "tier",
    "channel",
    "reason",
    "detail",
    "invite_allowed",
    "gift",
    "language",
)


def ledger(incident) -> None:
    """One person for each rule planning applies."""
    person(incident, "sub@example.com")
    person(incident, "sub-bounced@example.com", bounced=True)
    contact("sub-bounced@example.com")
    person(incident, "sub-manual@example.com")
    contact("sub-manual@example.com", language="fr")
    Suppression.objects.create(email="sub-manual@example.com", reason="manual")
    person(incident, "sub-complained@example.com", messages=30)
    contact("sub-complained@example.com")
    for reason in ("complained", "unsubscribed", "hard_bounce"):
        Suppression.objects.create(email="sub-complained@example.com", reason=reason)
    person(incident, "us@example.com", state="unsubscribed", messages=30)
    contact("us@example.com", language="")
    person(incident, "de@example.com", state="unsubscribed", messages=30)
    contact("de@example.com", country="DE")
    person(incident, "fr@example.com", state="complained", messages=30)
    contact("fr@example.com", country="FR")
    person(incident, "nowhere@example.com", state="complained")
    person(incident, "invalid@example.com", state="bounced", bounced=True)
    contact("invalid@example.com", valid=False)
    person(incident, "invalid-quiet@example.com", state="unsubscribed")
    contact("invalid-quiet@example.com", valid=False)
    Contact.objects.filter(email="invalid-quiet@example.com").update(address_problems="")
    person(incident, "no-rule@example.com", state="unsubscribed", messages=30)
    contact("no-rule@example.com")
    Contact.objects.filter(email="no-rule@example.com").update(country="ZZ")
    person(incident, "lower@example.com", state="unsubscribed", messages=30)
    contact("lower@example.com")
    Contact.objects.filter(email="lower@example.com").update(country="us")
    person(incident, "erased@example.com")
    ErasedAddress.objects.create(email_hash=email_hash("Erased@Example.com "))
    person(incident, "zoë@example.com", state="unsubscribed")
    contact("zoë@example.com")
    ErasedAddress.objects.create(email_hash=email_hash("ZOË@example.com"))
    person(incident, "erased-0123456789abcdef@Erased.Invalid", state="unsubscribed")
    contact("erased-0123456789abcdef@erased.invalid")
    person(incident, "belgian@example.com", state="unsubscribed")
    contact("belgian@example.com", language="")
    Contact.objects.filter(email="belgian@example.com").update(country="BE")
    person(incident, "typed@example.com", state="unsubscribed")
    contact("typed@example.com", language="fr-CA")
    person(incident, "long@example.com", state="bounced")
    contact("long@example.com", valid=False)
    Contact.objects.filter(email="long@example.com").update(address_problems="x" * 400)
    for n in range(3):
        person(incident, f"already{n}@example.com", state="unsubscribed" if n else "subscribed")
        contact(f"already{n}@example.com")


@pytest.mark.parametrize("follow_up", [False, True])
def test_it_plans_in_sql_as_in_python(marketer, follow_up):
    incident = IncidentFactory()
    ledger(incident)
    planning.policy_defaults_ensure()
    CountryPolicy.objects.filter(country="FR").update(letter_allowed=False, letter_reason="")
    earlier = planning.campaign_create(incident=incident, name="Earlier", author=marketer)
    for r in earlier.recipients.filter(email__startswith="already"):
        Delivery.objects.create(campaign=earlier, recipient=r, incident=incident, email=r.email, channel=r.channel)

    campaign = planning.campaign_create(
        incident=incident,
        name="Sorry",
        author=marketer,
        gift_tiers=[2],
        default_language="de",
        allow_follow_up=follow_up,
    )
    in_sql = {r.email: r for r in campaign.recipients.all()}
    people = list(planning.audience(campaign).order_by("email"))
    in_python = {r.email: r for r in planning.recipients_planned(campaign, people, planning.policy_map(), {}, {})}

    assert set(in_sql) == set(in_python) == {p.email for p in people}
    for email, expected in in_python.items():
        assert {f: getattr(in_sql[email], f) for f in FIELDS} == {f: getattr(expected, f) for f in FIELDS}, email
    got = in_sql
    assert got["erased@example.com"].reason == Recipient.Reason.SUPPRESSED
    assert got["sub-complained@example.com"].detail == "suppressed: complained, hard_bounce, unsubscribed"
    assert got["fr@example.com"].detail == "country rule: no letter (no reason given)"
    assert (got["us@example.com"].gift, got["de@example.com"].gift) == (True, False)
    assert got["already1@example.com"].reason == (
        Recipient.Reason.UNSUBSCRIBED if follow_up else Recipient.Reason.ALREADY
    )
    assert len(got["long@example.com"].detail) == 300
    assert (got["typed@example.com"].language, got["nowhere@example.com"].language) == ("fr", "de")
    assert "never_again" in got["zoë@example.com"].detail
    assert "never_again" in got["erased-0123456789abcdef@Erased.Invalid"].detail


def test_it_keeps_codes_and_overrides_when_planned_again_in_sql(marketer):
    incident = IncidentFactory()
    ledger(incident)
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    codes = dict(campaign.recipients.values_list("email", "short_code"))
    r = campaign.recipients.get(email="us@example.com")
    planning.recipient_override(recipient=r, channel=Recipient.Channel.NONE, note="asked us by phone", user=marketer)
    person(incident, "new@example.com")
    Campaign.objects.filter(id=campaign.id).update(status=Campaign.Status.DRAFT)
    counts = planning.campaign_plan(campaign=campaign)

    again = {r.email: r for r in campaign.recipients.all()}
    assert {e: again[e].short_code for e in codes} == codes
    assert again["new@example.com"].short_code not in codes.values()
    assert (again["us@example.com"].channel, again["us@example.com"].reason) == (Recipient.Channel.NONE, "override")
    assert again["us@example.com"].override_by == marketer
    assert sum(counts.values()) == len(again) == len(codes) + 1


def test_it_draws_again_when_fresh_codes_meet(marketer, monkeypatch):
    incident = IncidentFactory()
    for n in range(12):
        person(incident, f"p{n}@example.com")
    # The first draw gives everyone the same code: one person is written, the other eleven are drawn again.
    monkeypatch.setattr(plan_sql, "FRESH_BITS", "CASE WHEN %(again)s THEN floor(random() * 1e12)::bigint ELSE 7 END")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    codes = list(campaign.recipients.values_list("short_code", flat=True))
    assert len(codes) == len(set(codes)) == 12
