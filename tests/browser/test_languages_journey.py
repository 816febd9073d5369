"""The way back in each language, in Chromium: from a letter's code and from an email's links, every word on the
page comes from that language's catalogue, not one English sentence left."""

from __future__ import annotations

import re

import polib
import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Browser, Page, expect

from apologies.campaigns import lifecycle, planning
from apologies.campaigns.models import CampaignTemplate
from apologies.models import CapturedEmail, Consent
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, contact, person
from conftest import make_user
from incidents.models import Suppression

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# language: (the browser's locale, the reader's country, the person page's heading, the choice, the confirm button)
LANGUAGES = {
    "en": ("en-US", "US", "Zoë, we're sorry", "Yes, send emails", "Yes, confirm"),
    "fr": ("fr-FR", "FR", "Zoë, nous sommes désolés", "Oui, je veux", "Oui, je confirme"),
    "de": ("de-DE", "DE", "Zoë, es tut uns leid", "Ja, ich möchte", "Ja, bestätigen"),
    "es": ("es-ES", "ES", "Zoë, lo sentimos", "Sí, quiero", "Sí, lo confirmo"),
}
# Words no French, German or Spanish page has; the catalogue's English sentences are checked as well.
ENGLISH_WORDS = re.compile(r"\b(the|you|your|we|our|sorry|emails?|again|unsubscribe|please|letter|continue)\b", re.I)


# What happened and the fix, as a marketer writes them in each variant's language.
OWN_WORDS = {
    "fr": ("Notre automatisme a tourné en boucle.", "Nous l'avons arrêté."),
    "de": ("Unser Ablauf lief in einer Schleife.", "Wir haben ihn gestoppt."),
    "es": ("Nuestro flujo se repitió sin parar.", "Lo hemos detenido."),
}


def english_fragments() -> list[str]:
    """The English source sentences, cut at their placeholders into pieces long enough to mean something."""
    po = polib.pofile(str(django_settings.BASE_DIR / "locale" / "fr" / "LC_MESSAGES" / "django.po"))
    pieces = []
    for entry in po:
        for text in (entry.msgid, entry.msgid_plural):
            for piece in re.split(r"%\(\w+\)s|<[^>]+>", text or ""):
                if len(piece.strip(" .,:;?!")) >= 10:
                    pieces.append(piece.strip())
    return pieces


def assert_no_english(page: Page, language: str, fragments: list[str]) -> None:
    assert page.locator("html").get_attribute("lang") == language
    assert page.locator("html").get_attribute("dir") == "ltr"
    if language == "en":
        return
    # The page itself: its title and its main part (the language switch names each language in its own words).
    text = page.title() + "\n" + page.locator("main").inner_text()
    found = [f for f in fragments if f in text] + ENGLISH_WORDS.findall(text)
    assert found == [], f"English on the {language} page {page.url}: {found}"


@pytest.fixture
def readers(settings, live_server):
    """For each language: a reader who unsubscribed (a letter) and one still subscribed (an email)."""
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    settings.AMENDS_BRAND_NAME = "Maison Lumière"
    settings.SITE_URL = live_server.url
    marketer = make_user("maya", "marketer")
    approver = make_user("ana", "approver")
    # The incident's own words are the marketer's, in one language (English); each variant says them in its own.
    incident = IncidentFactory(what_happened="Our workflow looped.", fix="We stopped it.")
    for language, (_, country, *_rest) in LANGUAGES.items():
        person(incident, f"zoe.{language}@example.com", state="unsubscribed", messages=25)
        contact(f"zoe.{language}@example.com", first_name="Zoë", country=country, language="")
        Suppression.objects.create(email=f"zoe.{language}@example.com", reason="unsubscribed")
        person(incident, f"sam.{language}@example.com", messages=4)
        contact(f"sam.{language}@example.com", first_name="Sam", country=country, language=language)
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer, sender_name="Lumière")
    for language in ("fr", "de", "es"):
        variant = lifecycle.template_add(
            campaign=campaign, language=language, tier=CampaignTemplate.ANY_TIER, user=marketer
        )
        variant.what_happened, variant.the_fix = OWN_WORDS[language]
        lifecycle.template_save(template=variant, user=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    sending.campaign_start(campaign=campaign, user=approver)
    return campaign


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_it_speaks_each_readers_language_from_the_letter_and_the_email(
    browser: Browser, base_url: str, readers, screenshots, language
):
    locale, _, heading, choice, confirm = LANGUAGES[language]
    fragments = english_fragments()
    letter = readers.recipients.get(email=f"zoe.{language}@example.com")
    assert letter.channel == "letter" and letter.language == language
    context = browser.new_context(base_url=base_url, locale=locale)
    context.set_default_timeout(10_000)
    page = screenshots.watch(context.new_page())

    # From the letter: the easy address, in the browser's language, then the code.
    page.goto("/sorry")
    assert_no_english(page, language, fragments)
    page.locator("#code").fill(letter.short_code.lower().replace("-", " "))
    page.locator("form.code-form button").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    assert_no_english(page, language, fragments)
    page.get_by_role("button", name=re.compile(choice)).click()
    assert_no_english(page, language, fragments)
    consent = Consent.objects.get(recipient=letter)
    assert consent.language == language and consent.text_shown.startswith(choice)

    # From the email: the double opt-in link, then the confirmation.
    email = CapturedEmail.objects.get(to=letter.email)
    link = re.search(r"https?://\S+/sorry/confirm/\S+", email.text).group(0)
    page.goto(link)
    assert_no_english(page, language, fragments)
    page.get_by_role("button", name=confirm).click()
    expect(page.get_by_role("status")).to_contain_text("z***@example.com")
    assert_no_english(page, language, fragments)

    # The apology email of the subscribed reader, in their language, and its one-click unsubscribe link.
    apology = CapturedEmail.objects.get(to=f"sam.{language}@example.com")
    assert (ENGLISH_WORDS.search(apology.text) is None) == (language != "en")
    page.goto(re.search(r"https?://\S+/u/\S+", apology.text).group(0))
    assert_no_english(page, language, fragments)
    context.close()
