"""Approval covers everything that reaches people: any change after it sends the campaign back (or pauses it)."""

import pytest
from django.core import mail as django_mail

from apologies.campaigns import fingerprint, lifecycle, planning
from apologies.campaigns.fingerprint import TEMPLATE_OWN_WORDS
from apologies.campaigns.models import Campaign, CampaignError, CampaignTemplate, CountryPolicy
from apologies.models import AuditEvent, CapturedEmail
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, person
from incidents.models import Incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(marketer, approver):
    incident = IncidentFactory(what_happened="A loop sent you 25 emails.", fix="We stopped the loop.")
    for i in range(3):
        person(incident, f"p{i}@example.com")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    template = campaign.templates.get()
    template.text_body = "{{ what_happened }} {{ the_fix }}\n" + template.text_body
    lifecycle.template_save(template=template, user=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    campaign.refresh_from_db()
    assert campaign.status == "approved" and set(campaign.approved_parts) >= {"incident", "templates", "recipients"}
    return campaign


def audit(campaign) -> list[tuple[str, str]]:
    return list(campaign.audit.order_by("id").values_list("action", "detail"))


def test_it_returns_the_campaign_to_draft_when_the_incident_words_change_after_approval(approved, marketer):
    incident = approved.incident
    incident.what_happened = "click http://evil.example/login"
    incident.save()  # as the incident form does

    approved.refresh_from_db()
    assert approved.status == "draft" and approved.approved_by is None and approved.approved_parts == {}
    assert ("edited", "changed since approval: the incident's words (what happened, the fix)") in audit(approved)
    with pytest.raises(CampaignError, match="Only an approved campaign"):
        sending.campaign_start(campaign=approved, user=marketer)


def test_it_refuses_to_start_when_a_change_bypassed_every_form(approved, approver, settings):
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    # A queryset update sends no signal: the check when sending starts still catches it.
    Incident.objects.filter(id=approved.incident_id).update(fix="Nothing, really.")
    with pytest.raises(CampaignError, match="the incident's words .* changed since the approval"):
        sending.campaign_start(campaign=approved, user=approver)
    approved.refresh_from_db()
    assert approved.status == "draft"
    assert not CapturedEmail.objects.exists() and not django_mail.outbox


def test_it_returns_approved_campaigns_to_draft_when_a_country_rule_changes(approved):
    CountryPolicy.objects.update_or_create(country="US", defaults={"invite_allowed": False})
    approved.refresh_from_db()
    assert approved.status == "draft"
    assert any("the country rules" in detail for _, detail in audit(approved))


def test_it_pauses_a_sending_campaign_whose_words_change_and_resumes_only_after_a_second_person_approves(
    approved, marketer, approver, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    with monkeypatch.context() as m:  # started, but the senders have not run yet
        m.setattr(sending, "senders_enqueue", lambda campaign: None)
        sending.campaign_start(campaign=approved, user=approver)
    incident = approved.incident
    incident.fix = "Something else entirely."
    incident.save()

    approved.refresh_from_db()
    assert approved.status == "paused" and "the incident's words" in approved.paused_reason
    assert sending.campaign_send_batch(campaign_id=approved.id) == "stopped"
    assert not CapturedEmail.objects.exists()
    with pytest.raises(CampaignError, match="approve the changes first"):
        sending.campaign_resume(campaign=approved, user=approver)
    with pytest.raises(CampaignError, match="Only an approver"):
        lifecycle.campaign_changes_approve(campaign=approved, user=marketer)

    changed = lifecycle.campaign_changes_approve(campaign=approved, user=approver)
    assert changed == ["the incident's words (what happened, the fix)"]
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_resume(campaign=approved, user=approver)
    approved.refresh_from_db()
    assert approved.status == Campaign.Status.COMPLETED
    assert CapturedEmail.objects.count() == 3
    assert all("Something else entirely." in e.text for e in CapturedEmail.objects.all())


def test_it_sends_back_a_submitted_campaign_that_changed_before_the_approval(marketer, approver):
    incident = IncidentFactory()
    person(incident, "a@example.com")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    Incident.objects.filter(id=incident.id).update(title="Another title")
    with pytest.raises(CampaignError, match="changed since it was submitted"):
        lifecycle.campaign_approve(campaign=campaign, user=approver)
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_it_deletes_an_approved_campaign_without_re_checking_its_parts_on_the_way(approved, approver):
    # Its templates, letter settings and gifts are deleted first: a re-check then audited a vanishing campaign,
    # and the deletion failed on that audit row's foreign key when it committed (the admin's delete was a 500).
    campaign_id = approved.id
    approved.delete()
    assert not Campaign.objects.filter(id=campaign_id).exists()
    assert not AuditEvent.objects.filter(campaign_id=campaign_id).exists()


def test_it_deletes_an_incident_with_an_approved_campaign(approved):
    campaign_id = approved.id
    Incident.objects.filter(id=approved.incident_id).delete()
    assert not Campaign.objects.filter(id=campaign_id).exists()
    assert not AuditEvent.objects.filter(campaign_id=campaign_id).exists()


def test_it_still_sends_the_campaign_back_when_a_part_alone_is_deleted(approved, marketer):
    approved.templates.get().delete()
    approved.refresh_from_db()
    assert approved.status == "draft"


def test_it_returns_the_campaign_to_draft_when_a_variants_own_words_change_after_approval(marketer, approver):
    incident = IncidentFactory(what_happened="A loop sent you 25 emails.", fix="We stopped the loop.")
    person(incident, "luc@example.fr")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    variant = lifecycle.template_add(campaign=campaign, language="fr", tier=CampaignTemplate.ANY_TIER, user=marketer)
    variant.what_happened, variant.the_fix = "Une boucle vous a écrit 25 fois.", "Nous avons arrêté la boucle."
    lifecycle.template_save(template=variant, user=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)

    variant.what_happened = "Cliquez sur http://evil.example/login"
    variant.save()  # as the admin would: no form, no service

    campaign.refresh_from_db()
    assert campaign.status == "draft" and campaign.approved_parts == {}
    assert ("edited", "changed since approval: the apology's words") in audit(campaign)


def test_it_fingerprints_a_template_without_own_words_as_before_they_existed(approved):
    # Approvals given before variants had their own words still match: blank ones are left out of the digest.
    template = approved.templates.get()
    before = fingerprint.fields_of(template, exclude={"id", "campaign", "created", "updated", *TEMPLATE_OWN_WORDS})
    assert fingerprint.campaign_fingerprint(campaign=approved)["templates"] == fingerprint.digest([before])
