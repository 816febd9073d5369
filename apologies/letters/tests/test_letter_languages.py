"""Each letter in its reader's language: the date as their language writes it, and every fixed word translated."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from apologies.campaigns import lifecycle, planning
from apologies.campaigns.models import CampaignTemplate
from apologies.letters import gifts, layout
from apologies.models import GiftPackage
from apologies.tests.letters_factories import letter_campaign, pdf_text

pytestmark = pytest.mark.django_db

PRINTED_ON = date(2026, 11, 29)
# email: (country, first name, the date, words of the body and of the fixed parts)
LETTERS = {
    "en": (
        "US",
        "Ann",
        "November 29, 2026",
        [
            "Dear Ann,",
            "On November 20, 2026 our systems sent you 3 emails",
            "In the parcel with this letter: Rose box",
            "Chocolate rose and squeezable can. A small thank-you for your patience.",
            "Your code:",
            "With our apologies,",
        ],
    ),
    "fr": (
        "FR",
        "Luc",
        "29 novembre 2026",
        [
            "Bonjour Luc,",
            "Le 20 novembre 2026, nos systèmes vous ont envoyé 3 courriels",
            "Dans le colis joint à cette lettre : Rose box",
            "Chocolate rose et squeezable can. Un petit merci pour votre patience.",
            "Votre code :",
            "Avec toutes nos excuses,",
        ],
    ),
    "de": (
        "DE",
        "Eva",
        "29. November 2026",
        [
            "Guten Tag, Eva,",
            "Am 20. November 2026 haben Ihnen unsere Systeme 3 E-Mails geschickt",
            "Im Paket zu diesem Brief: Rose box",
            "Chocolate rose und squeezable can. Ein kleines Dankeschön für Ihre Geduld.",
            "Ihr Code:",
            "Mit unserer aufrichtigen Entschuldigung",
        ],
    ),
    "es": (
        "ES",
        "Ana",
        "29 de noviembre de 2026",
        [
            "Hola, Ana:",
            "El 20 de noviembre de 2026 nuestros sistemas te enviaron 3 correos",
            "En el paquete que acompaña a esta carta: Rose box",
            "Chocolate rose y squeezable can. Un pequeño detalle para agradecerte la paciencia.",
            "Tu código:",
            "Con nuestras disculpas,",
        ],
    ),
}
ENGLISH = ["Dear ", "Your code", "In the parcel", "thank-you", "With our apologies", "emails", "November 29,"]


def flat(text: str) -> str:
    # Non-breaking spaces (French typography) read as spaces; lines joined as the reader reads them.
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


@pytest.fixture
def campaign(marketer, monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *args: PRINTED_ON)
    planning.policy_defaults_ensure()
    for country in ("FR", "DE", "ES"):
        # So that these letters also carry the way back, whose words are checked too.
        planning.policy_save(country=country, letter_allowed=True, gift_allowed=True, invite_allowed=True)
    people = {
        f"{language}@example.com": {"country": country, "first_name": name, "language": ""}
        for language, (country, name, _, _) in LETTERS.items()
    }
    campaign = letter_campaign(marketer, people=people, start=False)
    for language in ("fr", "de", "es"):
        lifecycle.template_add(campaign=campaign, language=language, tier=CampaignTemplate.ANY_TIER, user=marketer)
    package = GiftPackage.objects.create(
        name="Rose box", sku="ROSE-01", items="chocolate rose\nsqueezable can", unit_cost=Decimal("8"), stock=10
    )
    gifts.gifts_assign(campaign=campaign, packages=dict.fromkeys(range(4), package), user=marketer)
    return campaign


@pytest.mark.parametrize("language", list(LETTERS))
def test_it_prints_the_date_and_the_fixed_words_in_the_readers_language(campaign, language):
    recipient = campaign.recipients.get(email=f"{language}@example.com")
    assert recipient.language == language and recipient.gift and recipient.invite_allowed
    country, name, day, phrases = LETTERS[language]
    text = flat(pdf_text(layout.letter_preview(recipient=recipient)))
    assert day in text
    for phrase in phrases:
        assert flat(phrase) in text, phrase
    assert f"{recipient.short_code}" in text
    if language != "en":
        assert [word for word in ENGLISH if word in text] == []


@pytest.mark.parametrize("language, signer", [("en", "The team"), ("fr", "L’équipe"), ("de", "Das Team")])
def test_it_signs_with_the_untouched_default_signer_in_the_letters_language(campaign, language, signer):
    recipient = campaign.recipients.get(email=f"{language}@example.com")
    text = flat(pdf_text(layout.letter_preview(recipient=recipient)))
    assert flat(signer) in text
    if language != "en":
        assert "The team" not in text
