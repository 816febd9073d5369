"""A language variant's own words for what the incident and the campaign say once, in the default language."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apologies.campaigns import lifecycle, planning, words
from apologies.campaigns.models import CampaignError, CampaignTemplate
from apologies.tests.factories import IncidentFactory, contact, person

pytestmark = pytest.mark.django_db

ENGLISH_WHAT = "A workflow update re-sent the welcome email in a loop."
ENGLISH_FIX = "We're changing how we manage workflow updates."
FRENCH_WHAT = "Une mise à jour a renvoyé le courriel de bienvenue en boucle."
FRENCH_FIX = "Nous changeons notre façon de publier les mises à jour."


@pytest.fixture
def campaign(marketer):
    """An English campaign with a French reader and a French variant started from the French default words."""
    incident = IncidentFactory(what_happened=ENGLISH_WHAT, fix=ENGLISH_FIX)
    person(incident, "luc@example.fr")
    contact("luc@example.fr", country="FR", language="fr", first_name="Luc")
    person(incident, "jo@example.com")
    contact("jo@example.com", first_name="Jo")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    lifecycle.template_add(campaign=campaign, language="fr", tier=CampaignTemplate.ANY_TIER, user=marketer)
    return campaign


def french(campaign) -> CampaignTemplate:
    return campaign.templates.get(language="fr")


def rendered(campaign, email: str) -> words.Rendered:
    return words.render_for(campaign, campaign.recipients.get(email=email), preview=True)


def test_it_renders_a_french_variant_with_its_own_words(campaign, marketer):
    variant = french(campaign)
    variant.what_happened, variant.the_fix, variant.sender_name = FRENCH_WHAT, FRENCH_FIX, "Le service client"
    lifecycle.template_save(template=variant, user=marketer)

    email = rendered(campaign, "luc@example.fr")
    for part in (email.text, email.html):
        assert "Bonjour Luc" in part and FRENCH_WHAT in part and "Le service client" in part
        assert ENGLISH_WHAT not in part and "The team" not in part
    assert FRENCH_FIX in email.text and "Nous changeons notre façon de publier les mises à jour." in email.html
    # The English reader's words are the incident's, signed by the campaign.
    english = rendered(campaign, "jo@example.com")
    assert ENGLISH_WHAT in english.text and FRENCH_WHAT not in english.text and "The team" in english.text


def test_it_quotes_the_incidents_words_where_a_variant_has_none(campaign):
    email = rendered(campaign, "luc@example.fr")
    assert ENGLISH_WHAT in email.text and ENGLISH_FIX in email.text


@pytest.mark.parametrize("language, signer", [("fr", "L’équipe"), ("de", "Das Team"), ("es", "El equipo")])
def test_it_says_the_untouched_default_signature_in_the_words_language(marketer, language, signer):
    incident = IncidentFactory()
    person(incident, "reader@example.com")
    contact("reader@example.com", language=language)
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    lifecycle.template_add(campaign=campaign, language=language, tier=CampaignTemplate.ANY_TIER, user=marketer)
    email = rendered(campaign, "reader@example.com")
    assert signer in email.text and signer in email.html
    assert "The team" not in email.text


def test_it_keeps_a_signer_the_campaign_named(campaign):
    campaign.sender_name = "Maya"
    campaign.save()
    assert "\nMaya\n" in rendered(campaign, "luc@example.fr").text


def test_it_refuses_to_submit_a_variant_that_would_quote_the_incidents_words_in_another_language(
    campaign, marketer, approver
):
    with pytest.raises(CampaignError) as refused:
        lifecycle.campaign_submit(campaign=campaign, user=marketer)
    message = str(refused.value)
    assert (
        "the fr words use {{ what_happened }}, written in en for the incident: write it in fr for these words"
        in message
    )
    assert "the fr words use {{ the_fix }}" in message

    variant = french(campaign)
    variant.what_happened = FRENCH_WHAT
    lifecycle.template_save(template=variant, user=marketer)
    with pytest.raises(CampaignError, match=r"the fr words use \{\{ the_fix \}\}") as refused:
        lifecycle.campaign_submit(campaign=campaign, user=marketer)
    assert "what_happened" not in str(refused.value)

    variant.the_fix = FRENCH_FIX
    lifecycle.template_save(template=variant, user=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    # Approval asks again: the French fix emptied behind every form (no signal, no fingerprint yet checked).
    CampaignTemplate.objects.filter(id=variant.id).update(the_fix="")
    with pytest.raises(CampaignError, match=r"Cannot approve: .*the fr words use \{\{ the_fix \}\}"):
        lifecycle.campaign_approve(campaign=campaign, user=approver)


def test_it_names_a_tier_variant_and_lets_an_incident_without_words_through(campaign, marketer):
    lifecycle.template_add(campaign=campaign, language="de", tier=0, user=marketer)
    problems = lifecycle.language_words_problems(campaign)
    assert any(p.startswith("the de / tier 0 words use {{ what_happened }}") for p in problems)
    # An incident that says nothing there puts no English in a French email.
    campaign.incident.what_happened = campaign.incident.fix = ""
    campaign.incident.save()
    assert lifecycle.language_words_problems(campaign) == []


def test_it_shows_on_the_campaign_page_what_submitting_would_refuse(client, campaign, marketer):
    client.force_login(marketer)
    page = client.get(campaign.get_absolute_url()).content.decode()
    assert 'id="language-problems"' in page
    assert "the fr words use {{ what_happened }}, written in en for the incident: write it in fr" in page


def test_it_offers_a_variants_own_words_only_in_another_language(client, campaign, marketer):
    client.force_login(marketer)
    url = reverse("apologies:templates", args=[campaign.id])
    default = client.get(url + f"?t={campaign.templates.get(language='').id}").content.decode()
    assert "What happened, in this language" not in default
    variant = french(campaign)
    page = client.get(url + f"?t={variant.id}").content.decode()
    assert "What happened, in this language" in page and "The fix, in this language" in page
    assert "Replaces the incident&#x27;s “what happened” (written in English) in these French words" in page
    assert "Sender name, in this language" in page

    data = {name: getattr(variant, name) for name in ("subject", "text_body", "html_body", "letter_body")}
    data.update(invitation=variant.invitation, what_happened=FRENCH_WHAT, the_fix=FRENCH_FIX, sender_name="")
    response = client.post(reverse("apologies:template_save", args=[variant.id]), data)
    assert response.status_code == 302
    variant.refresh_from_db()
    assert (variant.what_happened, variant.the_fix, variant.sender_name) == (FRENCH_WHAT, FRENCH_FIX, "")
