"""Each person's language and zone, and their dates, numbers, money and plurals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from apologies.campaigns import lifecycle, locales, planning, templating, words
from apologies.campaigns.models import CampaignTemplate
from apologies.tests.factories import IncidentFactory, contact, person
from incidents.contacts.languages import country_languages, language_code

MOMENT = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)


def someone(**fields) -> SimpleNamespace:
    return SimpleNamespace(**{"language": "", "country": "", "time_zone": "", **fields})


@pytest.mark.parametrize(
    "typed, code",
    [("fr", "fr"), ("fr-BE", "fr"), ("FR", "fr"), ("de_AT", "de"), ("French", "fr"), ("Deutsch", "de"),
     ("español", "es"), ("he", "he"), ("klingon-ish", ""), ("", "")],
)  # fmt: skip
def test_it_reads_a_language_however_a_contact_list_writes_it(typed, code):
    assert language_code(typed) == code


def test_it_takes_the_contacts_language_then_the_countrys_then_the_campaigns():
    assert locales.person_language(contact=someone(language="es", country="FR"), default="de") == "es"
    assert locales.person_language(contact=someone(country="FR"), default="de") == "fr"
    assert locales.person_language(contact=someone(country="AT"), default="en") == "de"
    # Belgium speaks Dutch first, but French is the first of its languages we can write.
    assert country_languages("BE")[0] == "nl"
    assert locales.person_language(contact=someone(country="BE"), default="en") == "fr"
    # Italy: none of ours, unless the campaign has Italian words.
    assert locales.person_language(contact=someone(country="IT"), default="de") == "de"
    assert locales.person_language(contact=someone(country="IT"), default="de", available=["it"]) == "it"
    assert locales.person_language(contact=None, default="es") == "es"


def test_it_takes_the_contacts_zone_then_the_countrys_then_the_campaigns(settings):
    settings.AMENDS_DEFAULT_PERSON_ZONE = "UTC"
    campaign = SimpleNamespace(time_zone="America/Chicago")
    assert locales.person_zone(contact=someone(time_zone="Asia/Tokyo", country="FR"), campaign=campaign).key == (
        "Asia/Tokyo"
    )
    assert locales.person_zone(contact=someone(country="FR"), campaign=campaign).key == "Europe/Paris"
    assert locales.person_zone(contact=someone(), campaign=campaign).key == "America/Chicago"
    assert locales.person_zone(contact=someone(), campaign=SimpleNamespace(time_zone="")).key == "UTC"


@pytest.mark.parametrize(
    "language, country, expected",
    [
        ("en", "US", "November 20, 2026"),
        ("en", "GB", "20 November 2026"),
        ("fr", "FR", "20 novembre 2026"),
        ("de", "DE", "20. November 2026"),
        ("es", "ES", "20 de noviembre de 2026"),
    ],
)
def test_it_writes_dates_as_each_language_does(language, country, expected):
    assert locales.format_day(date(2026, 11, 20), language=language, country=country) == expected


def test_it_writes_times_on_the_persons_clock_without_a_zone_name():
    paris = ZoneInfo("Europe/Paris")
    assert locales.format_moment(MOMENT, language="fr", tz=paris, country="FR") == "20 novembre 2026, 15:05"
    assert locales.format_moment(MOMENT, language="de", tz=paris) == "20. November 2026, 15:05"
    text = locales.format_moment(MOMENT, language="en", tz=ZoneInfo("UTC"))
    assert "UTC" not in text and "2:05" in text


def test_it_writes_numbers_money_and_plurals_per_language():
    assert locales.emails_phrase(1, language="en") == "1 email"
    assert locales.emails_phrase(25, language="en") == "25 emails"
    assert locales.emails_phrase(1, language="fr") == "1 courriel"
    assert locales.emails_phrase(2, language="fr") == "2 courriels"
    assert locales.emails_phrase(0, language="fr") == "0 courriel"  # French counts zero as one
    assert locales.emails_phrase(1234, language="fr") == "1\u202f234 courriels"
    assert locales.emails_phrase(1234, language="de") == "1.234 E-Mails"
    assert locales.emails_phrase(1, language="es") == "1 correo"
    assert locales.format_money(Decimal("12.5"), "EUR", language="de") == "12,50\xa0€"
    assert locales.format_money(Decimal("12.5"), "USD", language="en", country="US") == "$12.50"
    assert words.count_phrase(1_000) == "1,000 emails"


@pytest.mark.parametrize("language", ["en", "fr", "de", "es"])
def test_it_has_the_default_words_in_every_language_with_every_placeholder(language):
    english = words.default_words("en")
    found = words.default_words(language)
    for field, text in found.items():
        assert templating.validate(text, invitation=field == "invitation") == []
        names = {p.name for p in templating.placeholders(text)}
        assert names == {p.name for p in templating.placeholders(english[field])}, field
        assert templating.missing_required(text) == [] or field in ("letter_body", "invitation", "subject")
    if language != "en":
        assert found["subject"] != english["subject"]


def test_it_starts_a_language_variant_from_that_languages_words(marketer):
    incident = IncidentFactory()
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    variant = lifecycle.template_add(campaign=campaign, language="fr", tier=CampaignTemplate.ANY_TIER, user=marketer)
    assert variant.subject == words.default_words("fr")["subject"]
    assert "Bonjour" in variant.text_body


def test_it_plans_each_person_in_their_language(marketer):
    incident = IncidentFactory()
    for email, country, language in [
        ("ana@example.es", "ES", ""),
        ("luc@example.fr", "FR", ""),
        ("jo@example.com", "US", ""),
        ("eva@example.de", "DE", "es"),
    ]:
        person(incident, email)
        contact(email, country=country, language=language)
    person(incident, "nobody@example.com")
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer, default_language="de")
    got = dict(campaign.recipients.values_list("email", "language"))
    assert got == {
        "ana@example.es": "es",
        "luc@example.fr": "fr",
        "jo@example.com": "en",
        "eva@example.de": "es",
        "nobody@example.com": "de",
    }
    # The campaign's own words start in its default language.
    assert campaign.templates.get().subject == words.default_words("de")["subject"]


def test_it_fills_an_email_in_the_language_and_zone_of_its_words(marketer):
    incident = IncidentFactory(started_at=MOMENT)
    person(incident, "luc@example.fr", messages=2)
    contact("luc@example.fr", country="FR", language="fr", first_name="Luc")
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    french = lifecycle.template_add(campaign=campaign, language="fr", tier=CampaignTemplate.ANY_TIER, user=marketer)
    french.text_body = french.text_body.replace("{{ the_fix }}", "{{ the_fix }} ({{ first_received_at }})")
    french.save()
    recipient = campaign.recipients.get()
    rendered = words.render_for(campaign, recipient, preview=True)
    assert "Bonjour Luc," in rendered.text
    assert "Le 20 novembre 2026, vous avez reçu 2 courriels" in rendered.text
    assert "(20 novembre 2026, 15:00)" in rendered.text  # 14:00 UTC is 15:00 in Paris
    assert "UTC" not in rendered.text
    assert "Désabonnez-vous" in rendered.html


def test_it_isolates_a_right_to_left_name_in_the_email(marketer):
    incident = IncidentFactory()
    person(incident, "dana@example.com")
    contact("dana@example.com", first_name="דנה")
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    rendered = words.render_for(campaign, campaign.recipients.get(), preview=True)
    assert '<bdi dir="rtl">דנה</bdi>' in rendered.html
    assert "Hi דנה," in rendered.text


def test_it_shows_staff_each_persons_language(client, marketer):
    incident = IncidentFactory()
    person(incident, "luc@example.fr")
    contact("luc@example.fr", country="FR", language="")
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    client.force_login(marketer)
    page = client.get(reverse("apologies:recipients", args=[campaign.id])).content.decode()
    assert '<abbr title="French">fr</abbr>' in page
    csv = b"".join(client.get(reverse("apologies:recipients_csv", args=[campaign.id])).streaming_content).decode()
    header, row = csv.splitlines()[:2]
    assert header.endswith(",language") and row.endswith(",fr")
    results = b"".join(client.get(reverse("apologies:results_csv", args=[campaign.id])).streaming_content).decode()
    assert results.splitlines()[1].startswith("luc@example.fr,fr,")
