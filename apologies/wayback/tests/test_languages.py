"""The way back in each person's language: pages, the switch, consent words, emails and error pages."""

from __future__ import annotations

import re

import pytest
from django.core import mail as django_mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from apologies import links
from apologies.campaigns import lifecycle, planning
from apologies.campaigns.models import CampaignTemplate
from apologies.models import Consent
from apologies.sending.models import Delivery
from apologies.tests.factories import IncidentFactory, contact, person
from incidents.models import Suppression

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def luc(marketer, settings):
    """A French reader who unsubscribed and got a letter."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    incident = IncidentFactory(what_happened="")
    person(incident, "luc@example.fr", state="unsubscribed", messages=25)
    contact("luc@example.fr", country="FR", language="", first_name="Luc")
    Suppression.objects.create(email="luc@example.fr", reason="unsubscribed")
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    return campaign.recipients.get()


def page_url(recipient, via: str = links.VIA_LINK) -> str:
    return reverse("sorry_person", args=[links.sorry_token(recipient, via=via)])


def test_it_shows_a_persons_page_in_their_language(client, luc):
    assert luc.language == "fr"  # from the country: the contact named none
    response = client.get(page_url(luc))
    html = response.content.decode()
    assert '<html lang="fr" dir="ltr">' in html
    assert response["Content-Language"] == "fr"
    assert "Luc, nous sommes désolés" in html
    assert "Le 20 novembre 2026, nos systèmes vous ont envoyé 25 courriels" in html
    assert "Oui, je veux de nouveau recevoir les courriels" in html
    assert "We're sorry" not in html and "What would you like" not in html


def test_it_switches_language_with_a_plain_link_that_changes_nothing(client, luc):
    html = client.get(page_url(luc)).content.decode()
    switch = re.search(r'<a href="([^"]+lang=de)" hreflang="de" lang="de">Deutsch</a>', html)
    assert switch, "the page offers a link to the German page"
    german = client.get(switch.group(1).replace("&amp;", "&")).content.decode()
    assert '<html lang="de"' in german and "Luc, es tut uns leid" in german
    assert not Consent.objects.exists()
    # The person's own page stays French: the switch remembered nothing.
    assert '<html lang="fr"' in client.get(page_url(luc)).content.decode()
    # A language we have no words for is no choice: the person's own again.
    assert '<html lang="fr"' in client.get(page_url(luc) + "?lang=xx").content.decode()


def test_it_records_the_french_words_of_a_french_re_signup_and_confirms_in_french(client, luc, settings):
    settings.AMENDS_DOUBLE_OPT_IN_FOR_CODES = True
    url = page_url(luc, via=links.VIA_CODE)
    page = client.get(url).content.decode()
    shown = re.search(r'<button name="choice" value="resubscribe"[^>]*>([^<]+)</button>', page).group(1)
    response = client.post(url, {"choice": "resubscribe", "shown_in": "fr"})
    assert response.status_code == 303
    consent = Consent.objects.get()
    assert consent.language == "fr"
    assert consent.text_shown == shown.replace("&#x27;", "'").replace("&amp;", "&")
    assert consent.text_shown.startswith("Oui, je veux de nouveau recevoir les courriels")
    assert "l’adresse l***@example.fr" in consent.text_shown
    # The double opt-in email is French too, and so is the page it opens.
    email = django_mail.outbox[-1]
    assert email.subject.startswith("À confirmer")
    assert "Quelqu’un a saisi" in email.body
    html = email.alternatives[0][0]
    assert '<html lang="fr" dir="ltr">' in html
    confirm = re.search(r"/sorry/confirm/\S+", email.body).group(0)
    assert "Oui, je confirme" in client.get(confirm).content.decode()
    done = client.get(response["Location"]).content.decode()
    assert "Consultez votre boîte de réception" in done


def test_it_stores_the_words_in_the_language_the_buttons_were_shown_in(client, luc):
    client.post(page_url(luc) + "?lang=es", {"choice": "stay_unsubscribed", "shown_in": "es"})
    consent = Consent.objects.get()
    assert consent.language == "es"
    assert consent.text_shown == "No, gracias: que l***@example.fr siga sin recibir correos de Amends demo."
    # A language we do not have falls back to the person's own.
    other = Consent.objects.filter(id=consent.id)
    other.delete()
    client.post(page_url(luc), {"choice": "stay_unsubscribed", "shown_in": "xx"})
    assert Consent.objects.get().language == "fr"


def test_it_keeps_the_chosen_language_through_a_choice(client, luc):
    response = client.post(page_url(luc) + "?lang=de", {"choice": "never_again", "shown_in": "de"})
    assert response["Location"].endswith("?lang=de")
    assert "Wir werden Sie nicht mehr kontaktieren" in client.get(response["Location"]).content.decode()


def test_it_shows_the_code_page_in_the_browsers_language():
    client = Client(HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9")
    html = client.get(reverse("sorry")).content.decode()
    assert '<html lang="es"' in html and "El código de tu carta" in html
    wrong = client.post(reverse("sorry"), {"code": "ZZZZ-ZZZZ"}, follow=True).content.decode()
    assert "No encontramos ese código" in wrong and "te quedan 9 intentos" in wrong
    assert '<html lang="en"' in Client(HTTP_ACCEPT_LANGUAGE="ja").get(reverse("sorry")).content.decode()


def test_it_answers_strangers_with_public_error_pages_in_their_language(client):
    german = Client(HTTP_ACCEPT_LANGUAGE="de")
    missing = german.get("/nothing-here/")
    assert missing.status_code == 404
    assert "Hier gibt es nichts" in missing.content.decode() and '<html lang="de"' in missing.content.decode()
    invalid = Client(HTTP_ACCEPT_LANGUAGE="fr").get("/sorry/not-a-token-at-all")
    assert invalid.status_code == 400 and "Ce lien n’est pas valide" in invalid.content.decode()
    unsubscribe = german.get("/u/broken")
    assert unsubscribe.status_code == 400 and "Dieser Link ist ungültig" in unsubscribe.content.decode()


def test_it_answers_a_server_error_in_the_visitors_language(rf):
    from apologies.wayback.views import server_error

    request = rf.get("/sorry/", HTTP_ACCEPT_LANGUAGE="fr")
    response = server_error(request)
    assert response.status_code == 500
    assert "Un problème est survenu de notre côté" in response.content.decode()


def test_it_shows_the_unsubscribe_page_in_the_persons_language(client, marketer):
    incident = IncidentFactory()
    person(incident, "eva@example.de")
    contact("eva@example.de", country="DE", language="de")
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    recipient = campaign.recipients.get()
    delivery = Delivery.objects.create(
        campaign=campaign, incident=incident, recipient=recipient, email=recipient.email, channel="email"
    )
    url = reverse("unsubscribe", args=[links.unsubscribe_token(delivery.id)])
    assert "Keine E-Mails mehr an" in client.get(url).content.decode()
    done = client.post(url, {"List-Unsubscribe": "One-Click"}).content.decode()
    assert "erhält keine E-Mails mehr" in done


def test_it_isolates_a_right_to_left_name_on_the_page(client, marketer):
    incident = IncidentFactory()
    person(incident, "amal@example.com", state="unsubscribed")
    contact("amal@example.com", first_name="أمل")
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    html = client.get(page_url(campaign.recipients.get())).content.decode()
    assert '<bdi dir="rtl">أمل</bdi>, we' in html


@pytest.fixture
def claire(marketer):
    """A French reader of an English campaign whose French words say what happened in French."""
    incident = IncidentFactory(what_happened="Our workflow looped.", fix="We stopped the loop.")
    person(incident, "claire@example.fr", state="unsubscribed", messages=25)
    contact("claire@example.fr", country="FR", language="fr", first_name="Claire")
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    variant = lifecycle.template_add(campaign=campaign, language="fr", tier=CampaignTemplate.ANY_TIER, user=marketer)
    variant.what_happened = "Notre parcours a tourné en boucle."
    lifecycle.template_save(template=variant, user=marketer)
    return campaign.recipients.get()


def test_it_shows_the_incidents_words_of_the_variant_in_the_pages_language(client, claire):
    html = client.get(page_url(claire)).content.decode()
    assert '<p lang="fr" dir="auto">Notre parcours a tourné en boucle.</p>' in html
    assert "Our workflow looped." not in html
    # The variant gives no fix of its own: the incident's, marked as English.
    assert '<span lang="en" dir="auto">We stopped the loop.</span>' in html
    # In English (the campaign's own words), the incident's.
    english = client.get(page_url(claire) + "?lang=en").content.decode()
    assert '<p lang="en" dir="auto">Our workflow looped.</p>' in english and "Notre parcours" not in english


def test_it_opens_a_person_whose_language_is_only_the_campaigns_default_in_the_browsers(marketer):
    incident = IncidentFactory()
    for email, language in (("nadia@example.com", ""), ("jane@example.com", "en")):
        person(incident, email, state="unsubscribed")
        contact(email, language=language, first_name=email.split("@")[0].title())
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    nadia, jane = campaign.recipients.get(email="nadia@example.com"), campaign.recipients.get(email="jane@example.com")
    assert nadia.language == jane.language == "en"
    french = Client(HTTP_ACCEPT_LANGUAGE="ja, fr-CA;q=0.9, en;q=0.5")

    # Nadia's contact names no language: her "en" is only the campaign's default, and her browser reads French.
    html = french.get(page_url(nadia)).content.decode()
    assert '<html lang="fr"' in html and "Nadia, nous sommes désolés" in html
    # The same page, cached, still follows each browser.
    assert '<html lang="en"' in Client().get(page_url(nadia)).content.decode()
    assert '<html lang="de"' in Client(HTTP_ACCEPT_LANGUAGE="de").get(page_url(nadia)).content.decode()
    # The switch still wins over the browser, and the page after a choice follows the browser too.
    assert '<html lang="es"' in french.get(page_url(nadia) + "?lang=es").content.decode()
    done = french.post(page_url(nadia), {"choice": "stay_unsubscribed", "shown_in": "fr"}, follow=True)
    assert '<html lang="fr"' in done.content.decode()
    # Jane's contact says English: her own language wins over the browser's.
    assert '<html lang="en"' in french.get(page_url(jane)).content.decode()
