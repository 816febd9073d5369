"""What approval covers and refuses: changes to a completed campaign's letters, blank placeholders, the incident's
tiers, and removing a variant."""

from decimal import Decimal

import pytest
from django.urls import reverse

from apologies.campaigns import lifecycle, planning
from apologies.campaigns.models import Campaign, CampaignError, CampaignTemplate
from apologies.letters import gifts
from apologies.letters import services as letter_batches
from apologies.letters.models import GiftPackage
from apologies.sending import services as sending
from apologies.sending.models import Delivery
from apologies.tests.factories import IncidentFactory, person
from apologies.tests.letters_factories import letter_campaign

pytestmark = pytest.mark.django_db


def audit(campaign) -> list[tuple[str, str]]:
    return list(campaign.audit.order_by("id").values_list("action", "detail"))


# 1. A completed campaign's letters, held by a change, wait for an approver, who can now approve the changes.


@pytest.fixture
def completed(marketer, approver, monkeypatch):
    """Every email handed over, two letters not yet rendered, each carrying the rose box."""
    rose = GiftPackage.objects.create(name="Rose box", sku="ROSE-01", items="a rose", unit_cost=Decimal("8"), stock=9)
    campaign = letter_campaign(marketer, people={f"p{i}@example.com": {"messages": 12} for i in range(2)}, start=False)
    gifts.gifts_assign(campaign=campaign, packages={campaign.incident.tier_for(12): rose}, user=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    monkeypatch.setattr(sending, "senders_enqueue", lambda campaign: None)
    sending.campaign_start(campaign=campaign, user=approver)
    assert sending.campaign_send_batch(campaign_id=campaign.id) == "done"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert campaign.deliveries.filter(channel="letter", status=Delivery.Status.QUEUED).count() == 2
    return campaign


def reprice(campaign: Campaign) -> None:
    """A marketer changes the price of the campaign's package in the gift catalogue."""
    package = campaign.gift_assignments.get().package
    gifts.gift_save(package=package, values={"unit_cost": Decimal("30"), "stock": package.stock})


def test_it_holds_a_completed_campaigns_letters_until_an_approver_approves_the_catalogues_change(
    completed, marketer, approver, client
):
    reprice(completed)
    completed.refresh_from_db()
    assert completed.status == Campaign.Status.COMPLETED
    held = [detail for action, detail in audit(completed) if action == lifecycle.HELD]
    assert held == [
        "What was approved changed (the gift packages and their prices): its letters still to go out wait until "
        "an approver approves the changes."
    ]
    with pytest.raises(CampaignError, match="Not rendered: the gift packages and their prices changed"):
        letter_batches.batches_create(campaign=completed, user=approver)
    assert [a for a, _ in audit(completed)].count(lifecycle.HELD) == 1  # said once, not at every attempt

    client.force_login(approver)
    page = client.get(completed.get_absolute_url()).content.decode()
    assert 'id="changes-to-approve"' in page and "the gift packages and their prices" in page
    assert reverse("apologies:approve_changes", args=[completed.id]) in page
    # Two people: whoever wrote the campaign cannot approve its changes.
    with pytest.raises(CampaignError, match="Only an approver can approve changes"):
        lifecycle.campaign_changes_approve(campaign=completed, user=marketer)
    written_by_an_approver = Campaign.objects.get(id=completed.id)
    written_by_an_approver.author = approver
    with pytest.raises(CampaignError, match="a second person has to approve its changes"):
        lifecycle.campaign_changes_approve(campaign=written_by_an_approver, user=approver)

    response = client.post(reverse("apologies:approve_changes", args=[completed.id]), follow=True)
    assert "Changes approved: its letters can go out." in response.content.decode()
    completed.refresh_from_db()
    assert ("changes approved", "the gift packages and their prices") in audit(completed)
    assert 'id="changes-to-approve"' not in client.get(completed.get_absolute_url()).content.decode()
    assert letter_batches.batches_create(campaign=completed, user=approver).letters == 2


def test_it_approves_no_changes_of_a_completed_campaign_with_nothing_left_to_go_out(completed, approver):
    completed.deliveries.filter(channel="letter").update(status=Delivery.Status.SENT)
    reprice(completed)
    assert lifecycle.changes_to_approve(completed) == []
    with pytest.raises(CampaignError, match="Only the changes of a paused campaign, or of a completed one"):
        lifecycle.campaign_changes_approve(campaign=completed, user=approver)


# 2. Words quoting a placeholder blank for everyone are refused.


def test_it_refuses_words_that_quote_what_happened_when_nobody_wrote_it(marketer, approver, client):
    incident = IncidentFactory(what_happened="", fix="")
    person(incident, "a@example.com")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    client.force_login(marketer)
    page = client.get(campaign.get_absolute_url()).content.decode()
    # Said on the campaign's page before anyone submits.
    assert 'id="blank-problems"' in page and "{{ what_happened }}, which is blank for everyone" in page
    with pytest.raises(CampaignError) as refused:
        lifecycle.campaign_submit(campaign=campaign, user=marketer)
    message = str(refused.value)
    assert "Cannot submit yet: no words quote a placeholder that is blank for everyone" in message
    assert (
        "the default / any tier words use {{ what_happened }}, which is blank for everyone: write it in the "
        "incident's what happened (on the incident's page)" in message
    )
    assert "{{ the_fix }}, which is blank for everyone: write it in the incident's fix" in message

    # A variant in another language is told about its own words too.
    lifecycle.template_add(campaign=campaign, language="fr", tier=CampaignTemplate.ANY_TIER, user=marketer)
    assert any(
        p.startswith("the fr words use {{ the_fix }}, which is blank for everyone")
        and p.endswith("or in these words' own “The fix, in this language”")
        for p in lifecycle.blank_words_problems(campaign)
    )
    campaign.templates.filter(language="fr").update(what_happened="Une boucle.", the_fix="Réparée.")
    incident.what_happened, incident.fix = "A loop.", "Fixed."
    incident.save()
    assert lifecycle.blank_words_problems(campaign) == []
    lifecycle.campaign_submit(campaign=campaign, user=marketer)

    # Approval asks again: the words emptied behind every form.
    type(incident).objects.filter(id=incident.id).update(fix="")
    campaign = Campaign.objects.get(id=campaign.id)
    with pytest.raises(
        CampaignError, match=r"Cannot approve: no words quote .*default / any tier words use \{\{ the_fix"
    ):
        lifecycle.campaign_approve(campaign=campaign, user=approver)


def test_it_lets_a_blank_placeholder_with_a_fallback_through(marketer):
    incident = IncidentFactory(what_happened="", fix="")
    person(incident, "a@example.com")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    template = campaign.templates.get()
    for field in ("text_body", "html_body", "letter_body"):
        text = getattr(template, field)
        text = text.replace("{{ what_happened }}", '{{ what_happened or "A loop." }}')
        setattr(template, field, text.replace("{{ the_fix }}", '{{ the_fix or "Fixed." }}'))
    template.save()
    assert lifecycle.blank_words_problems(campaign) == []


# 3. The incident's tiers are part of what approval covers.


def test_it_sends_an_approved_campaign_back_to_draft_when_the_incidents_tiers_change(marketer, approver, client):
    incident = IncidentFactory()
    person(incident, "seventy@example.com", messages=70)
    person(incident, "three@example.com", messages=3)
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)

    incident.tier_bounds = [1, 5, 20, 100]
    incident.save()  # as the incident form does; its ledger is then computed again
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT and campaign.approved_parts == {}
    assert ("edited", "changed since approval: the incident's tiers (the messages each tier counts)") in audit(campaign)
    client.force_login(marketer)
    page = client.get(campaign.get_absolute_url()).content.decode()
    assert "tiers (the messages each tier counts)" in page
    # The campaign page says why its tiers read wrong, and what to do, before anyone submits.
    assert 'id="tiers-problems"' in page and "Plan again from the ledger (below)" in page

    # The people still carry the old tiers' numbers (70 messages: "50+", now the "20-99" tier): refused until
    # planned again.
    with pytest.raises(CampaignError, match=r"planned with other tiers than the incident's \(1-4, 5-19, 20-99"):
        lifecycle.campaign_submit(campaign=campaign, user=marketer)
    person_row = incident.affected.get(email="seventy@example.com")
    person_row.tier = incident.tier_for(70)
    person_row.save()
    incident.affected.filter(email="three@example.com").update(tier=incident.tier_for(3))
    planning.campaign_plan(campaign=campaign)
    assert dict(campaign.recipients.values_list("email", "tier")) == {"seventy@example.com": 2, "three@example.com": 0}
    assert 'id="tiers-problems"' not in client.get(campaign.get_absolute_url()).content.decode()
    lifecycle.campaign_submit(campaign=campaign, user=marketer)

    # Stale tiers slipped in behind every form are refused at approval too.
    campaign.recipients.filter(email="seventy@example.com").update(tier=3)
    with pytest.raises(CampaignError, match="Cannot approve: the people were planned with other tiers"):
        lifecycle.campaign_approve(campaign=campaign, user=approver)


# 4. Removing a variant; a variant whose words were never translated.


def test_it_removes_a_variant_and_sends_an_approved_campaign_back_to_draft(marketer, approver, client):
    incident = IncidentFactory()
    person(incident, "a@example.com")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    lifecycle.template_add(campaign=campaign, language="it", tier=CampaignTemplate.ANY_TIER, user=marketer)
    variant = campaign.templates.get(language="it")
    with pytest.raises(CampaignError, match="the it words use"):
        lifecycle.campaign_submit(campaign=campaign, user=marketer)

    client.force_login(marketer)
    page = client.get(reverse("apologies:templates", args=[campaign.id]) + f"?t={variant.id}").content.decode()
    delete_url = reverse("apologies:template_delete", args=[variant.id])
    assert delete_url in page
    default = campaign.templates.get(language="")
    default_page = client.get(reverse("apologies:templates", args=[campaign.id]) + f"?t={default.id}")
    assert 'id="remove-variant"' not in default_page.content.decode()

    assert client.get(delete_url).status_code == 405
    response = client.post(delete_url, follow=True)
    assert "Variant it / any tier removed." in response.content.decode()
    assert not campaign.templates.filter(language="it").exists()
    assert ("edited", "variant it / any tier removed") in audit(campaign)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)

    tier_variant = lifecycle.template_add(campaign=campaign, language="", tier=0, user=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    lifecycle.template_delete(template=tier_variant, user=marketer)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT and campaign.approved_by is None
    assert audit(campaign)[-2:] == [
        ("edited", "variant default / tier 0 removed"),
        ("returned to draft", "was approved; edited: variant default / tier 0 removed"),
    ]
    assert campaign.audit.first().user == marketer

    response = client.post(reverse("apologies:template_delete", args=[default.id]), follow=True)
    assert "The default words cannot be removed" in response.content.decode()
    assert campaign.templates.filter(id=default.id).exists()


def test_it_refuses_a_variant_whose_subject_and_body_are_still_the_default_languages(marketer):
    incident = IncidentFactory()
    person(incident, "a@example.com")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    variant = lifecycle.template_add(campaign=campaign, language="it", tier=CampaignTemplate.ANY_TIER, user=marketer)
    variant.what_happened, variant.the_fix = "Un ciclo ha inviato 25 email.", "Abbiamo fermato il ciclo."
    lifecycle.template_save(template=variant, user=marketer)
    with pytest.raises(CampaignError) as refused:
        lifecycle.campaign_submit(campaign=campaign, user=marketer)
    assert (
        "one email or letter never mixes two languages; the subject and text body and HTML body and letter of the "
        "it words are the en words unchanged: write them in it, or remove the variant" in str(refused.value)
    )
    # A translated variant (ours, from the catalogue) passes.
    french = lifecycle.template_add(campaign=campaign, language="fr", tier=CampaignTemplate.ANY_TIER, user=marketer)
    assert not any("the fr words are" in p for p in lifecycle.language_words_problems(campaign))
    # Words that are only placeholders are the same in every language.
    french.subject = "{{ incident_title }}"
    campaign.templates.filter(language="").update(subject="{{ incident_title }}")
    french.save()
    assert not any(p.startswith("the subject") and " fr " in p for p in lifecycle.language_words_problems(campaign))


# 5. Plurals on the campaign's pages.


def test_it_says_one_person_and_one_message_in_the_singular(marketer, client):
    incident = IncidentFactory()
    person(incident, "a@example.com", messages=1)
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    client.force_login(marketer)
    recipient = campaign.recipients.get()
    preview = client.get(reverse("apologies:preview", args=[recipient.id])).content.decode()
    assert "1 message, up to 1 in ten minutes" in preview
    words = client.get(reverse("apologies:templates", args=[campaign.id])).content.decode()
    assert "messages, up to" not in preview and " to 0 people" in words
