"""Country rules per channel, the words every email must carry, and plural-aware placeholders."""

import pytest

from apologies.campaigns import lifecycle, planning, words
from apologies.campaigns.models import CampaignError
from apologies.models import CampaignTemplate, CountryPolicy
from apologies.tests.factories import IncidentFactory, contact, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident():
    incident = IncidentFactory()
    for email, country in [("us@example.com", "US"), ("de@example.com", "DE"), ("fr@example.com", "FR")]:
        person(incident, email, state="unsubscribed", messages=60)
        contact(email, country=country)
    person(incident, "sub@example.com", messages=1)
    contact("sub@example.com")
    person(incident, "nowhere@example.com", state="unsubscribed")  # no postal address: channel none
    return incident


def plan(incident, marketer, **fields):
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer, **fields)
    return campaign, {r.email: r for r in campaign.recipients.all()}


def test_it_applies_each_countrys_rule_per_channel(incident, marketer):
    campaign, people = plan(incident, marketer, gift_tiers=[0, 1, 2, 3])
    us, de = people["us@example.com"], people["de@example.com"]
    assert (us.channel, us.gift, us.invite_allowed) == ("letter", True, True)
    # EU objection: the apology letter is not marketing; a gift and an invitation are.
    assert (de.channel, de.gift, de.invite_allowed) == ("letter", False, False)
    assert people["nowhere@example.com"].channel == "none"
    assert people["nowhere@example.com"].invite_allowed is False  # never "invited back" without a channel
    assert people["sub@example.com"].invite_allowed is False

    planning.policy_save(
        country="FR",
        letter_allowed=False,
        letter_reason="counsel: no post after an objection",
        gift_allowed=False,
        gift_reason="-",
        invite_allowed=False,
        invite_reason="-",
    )
    planning.campaign_plan(campaign=campaign)
    fr = campaign.recipients.get(email="fr@example.com")
    assert fr.channel == "none" and "country rule: no letter (counsel: no post after an objection)" in fr.detail
    assert CountryPolicy.objects.get(country="DE").gift_reason.startswith("A gift promotes")


def test_it_refuses_emails_without_unsubscribe_link_or_postal_address_at_submission_and_approval(
    incident, marketer, approver, settings
):
    campaign, _ = plan(incident, marketer)
    template = campaign.templates.get()
    template.text_body = "Sorry, {{ first_name }}. {{ postal_address }}"
    template.html_body = "<p>Sorry</p>"
    template.save()
    # Said to the marketer, who can fix it, before an approver is asked.
    with pytest.raises(CampaignError) as refused:
        lifecycle.campaign_submit(campaign=campaign, user=marketer)
    message = str(refused.value)
    assert message.startswith("Cannot submit yet: every email must show an unsubscribe link and a postal address")
    assert "text body of the default / any tier words lacks {{ unsubscribe_url }}" in message
    assert "HTML body of the default / any tier words lacks {{ unsubscribe_url }} and {{ postal_address }}" in message
    campaign.refresh_from_db()
    assert campaign.status == "draft"

    template.text_body = template.html_body = "{{ unsubscribe_url }} {{ postal_address }}"
    lifecycle.template_save(template=template, user=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    # The site's address emptied after the submission: the approval still checks.
    settings.AMENDS_POSTAL_ADDRESS = ""
    campaign.refresh_from_db()
    with pytest.raises(CampaignError, match="Cannot approve: .*there is no postal address"):
        lifecycle.campaign_approve(campaign=campaign, user=approver)
    campaign.postal_address = "MINI USA, 300 Chestnut Ridge Rd, Woodcliff Lake, NJ 07677"
    lifecycle.campaign_settings_save(campaign=campaign, changed=["postal_address"], user=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)


def test_it_puts_the_unsubscribe_link_and_address_in_the_default_words(incident, marketer, settings):
    campaign, people = plan(incident, marketer)
    rendered = words.render_for(campaign, people["sub@example.com"], delivery_id=41)
    assert "/u/41." in rendered.text and settings.AMENDS_POSTAL_ADDRESS in rendered.text
    assert 'href="http' in rendered.html and "/u/41." in rendered.html
    assert "you received 1 email from us, as many as 1 email in ten minutes" in rendered.text


def test_it_sets_the_brand_per_campaign_on_the_settings_page(client, incident, marketer):
    campaign, _ = plan(incident, marketer)
    client.force_login(marketer)
    assert "Brand name" in client.get(f"/campaigns/{campaign.id}/settings/").content.decode()
    form = {
        "name": "x",
        "sender_name": "The MINI USA team",
        "brand_name": "MINI USA",
        "brand_logo": "",
        "brand_color": "#zzzzzz",
        "from_address": "",
        "postal_address": "",
        "default_language": "en",
        "rate_per_second": 50,
        "pause_after_errors": 10,
        "approval_max_age_hours": 24,
        "cost_per_letter": "1.50",
        "cost_per_gift": "12.00",
        # Careful sending, left at its defaults.
        "pilot_percent": "5",
        "wave_percent": "25",
        "wave_wait_minutes": 240,
        "max_complaint_percent": "0.1",
        "max_bounce_percent": "2",
        "schedule": "now",
        "control_percent": "10",
    }
    response = client.post(f"/campaigns/{campaign.id}/settings/", form)
    assert response.status_code == 200 and "A colour like #b3261e." in response.content.decode()
    client.post(f"/campaigns/{campaign.id}/settings/", {**form, "brand_color": "#0b3d91"})
    campaign.refresh_from_db()
    assert (campaign.brand_name, campaign.brand_color) == ("MINI USA", "#0b3d91")


def test_it_says_1_email_and_25_emails(incident, marketer):
    campaign, people = plan(incident, marketer)
    template = campaign.templates.get()
    template.text_body = "those {{ emails_received_phrase }} ({{ max_in_10_min_phrase }} in ten minutes)"
    template.save()
    assert (
        words.render_for(campaign, people["sub@example.com"], template).text == "those 1 email (1 email in ten minutes)"
    )
    assert (
        words.render_for(campaign, people["us@example.com"], template).text
        == "those 60 emails (25 emails in ten minutes)"
    )
    assert words.count_phrase(1_000) == "1,000 emails"
    assert CampaignTemplate.objects.count() == 1


def test_it_offers_to_renew_an_approval_only_near_its_end(client, incident, marketer, approver):
    from datetime import timedelta

    from django.utils import timezone

    campaign, _ = plan(incident, marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    client.force_login(approver)
    assert "Renew approval" not in client.get(f"/campaigns/{campaign.id}/").content.decode()
    campaign.approved_at = timezone.now() - timedelta(hours=20)  # 4 of 24 hours left
    campaign.save()
    assert "Renew approval" in client.get(f"/campaigns/{campaign.id}/").content.decode()


def test_it_names_what_the_email_words_lack_on_the_campaign_page(client, incident, marketer):
    campaign, _ = plan(incident, marketer)
    template = campaign.templates.get()
    template.text_body = "Sorry. {{ unsubscribe_url }}"
    template.save()
    client.force_login(marketer)
    html = client.get(f"/campaigns/{campaign.id}/").content.decode()
    assert "Not ready for approval" in html and "lacks {{ postal_address }}" in html
