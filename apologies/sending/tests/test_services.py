from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apologies import links
from apologies.campaigns import lifecycle, planning
from apologies.campaigns import models as campaigns_models
from apologies.models import Campaign, CapturedEmail, Delivery, Recipient
from apologies.sending import esp
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, contact, person
from incidents.models import Suppression
from tests.mock_esp import MockMailgun

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    # pytest-django swaps in locmem mail; these tests read the outbox the embedded default keeps.
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    settings.AMENDS_RETRY_BACKOFF_SECONDS = 0
    settings.AMENDS_SINGLE_BATCH_SIZE = 7


def ready(marketer, approver, *, people: int = 20, **fields) -> Campaign:
    """A campaign for `people` subscribed people, approved by a second person."""
    incident = IncidentFactory()
    for i in range(people):
        person(incident, f"p{i:03d}@example.com", messages=1 + i % 60)
        contact(f"p{i:03d}@example.com", first_name=f"Name{i}")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer, **fields)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    return campaign


def start(campaign, user, callbacks) -> None:
    with callbacks(execute=True):
        sending.campaign_start(campaign=campaign, user=user)
    campaign.refresh_from_db()


def test_it_needs_a_second_person_in_the_approver_role(marketer, approver, django_user_model):
    incident = IncidentFactory()
    person(incident, "a@example.com")
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    with pytest.raises(campaigns_models.CampaignError, match="Only an approver"):
        lifecycle.campaign_approve(campaign=campaign, user=marketer)
    approver.groups.add(*marketer.groups.all())
    own = planning.campaign_create(incident=incident, name="mine", author=approver)
    lifecycle.campaign_submit(campaign=own, user=approver)
    with pytest.raises(campaigns_models.CampaignError, match="second person"):
        lifecycle.campaign_approve(campaign=own, user=approver)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    assert campaign.status == "approved"
    actions = list(campaign.audit.order_by("at", "id").values_list("action", flat=True))
    assert actions == ["created", "submitted for approval", "approved"]


def test_it_returns_an_edited_approved_campaign_to_draft(marketer, approver):
    campaign = ready(marketer, approver, people=2)
    template = campaign.templates.get()
    template.subject = "A new subject"
    lifecycle.template_save(template=template, user=marketer)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.approved_by) == ("draft", None)
    assert campaign.audit.filter(action="returned to draft").exists()
    with pytest.raises(campaigns_models.CampaignError):
        sending.campaign_start(campaign=campaign, user=marketer)


def test_it_refuses_to_save_a_template_with_an_unknown_placeholder(marketer, approver):
    campaign = ready(marketer, approver, people=1)
    template = campaign.templates.get()
    template.text_body = "Hi {{ frist_name }}"
    with pytest.raises(campaigns_models.CampaignError, match="unknown placeholder 'frist_name'"):
        lifecycle.template_save(template=template, user=marketer)
    campaign.refresh_from_db()
    assert campaign.status == "approved"


def test_it_refuses_a_stale_approval_until_renewed(marketer, approver, django_capture_on_commit_callbacks):
    campaign = ready(marketer, approver, people=3)
    Campaign.objects.filter(id=campaign.id).update(approved_at=timezone.now() - timedelta(hours=25))
    campaign.refresh_from_db()
    with pytest.raises(campaigns_models.CampaignError, match="older than 24 h"):
        sending.campaign_start(campaign=campaign, user=marketer)
    assert not Delivery.objects.exists()
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    start(campaign, marketer, django_capture_on_commit_callbacks)
    assert campaign.status == "completed"


def test_it_sends_each_email_once_and_completes(marketer, approver, django_capture_on_commit_callbacks):
    campaign = ready(marketer, approver, people=20)
    start(campaign, marketer, django_capture_on_commit_callbacks)
    assert campaign.status == "completed"
    sent = list(CapturedEmail.objects.values_list("to", flat=True))
    assert sorted(sent) == [f"p{i:03d}@example.com" for i in range(20)]
    assert Delivery.objects.filter(status="sent").count() == 20
    email = CapturedEmail.objects.get(to="p003@example.com")
    assert email.subject == "We're sorry about all those emails"
    assert "Hi Name3," in email.text
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    delivery = Delivery.objects.get(email="p003@example.com")
    assert links.delivery_from_reply_address(email.headers["Reply-To"]) == delivery.id
    assert email.metadata == {"delivery_id": str(delivery.id), "campaign_id": str(campaign.id)}
    # Running the senders again sends nothing more.
    assert sending.campaign_send_batch(campaign_id=campaign.id) == "stopped"
    assert CapturedEmail.objects.count() == 20


def test_it_never_emails_an_address_suppressed_after_planning(marketer, approver, django_capture_on_commit_callbacks):
    campaign = ready(marketer, approver, people=5)
    Suppression.objects.create(email="p002@example.com", reason="unsubscribed")
    start(campaign, marketer, django_capture_on_commit_callbacks)
    assert "p002@example.com" not in set(CapturedEmail.objects.values_list("to", flat=True))
    assert Delivery.objects.get(email="p002@example.com").status == "skipped"
    assert campaign.status == "completed"


def test_it_pauses_between_batches_and_resumes_without_duplicates(
    marketer, approver, django_capture_on_commit_callbacks
):
    campaign = ready(marketer, approver, people=20)
    with django_capture_on_commit_callbacks(execute=False):
        sending.campaign_start(campaign=campaign, user=marketer)
    assert sending.campaign_send_batch(campaign_id=campaign.id) == "more"
    sending.campaign_pause(campaign=campaign, user=approver, reason="checking a complaint")
    assert sending.campaign_send_batch(campaign_id=campaign.id) == "stopped"
    assert CapturedEmail.objects.count() == 7
    assert Delivery.objects.filter(status="queued").count() == 13
    campaign.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_resume(campaign=campaign, user=approver)
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    assert CapturedEmail.objects.count() == 20
    assert len(set(CapturedEmail.objects.values_list("to", flat=True))) == 20


def test_it_cancels_for_good(marketer, approver, django_capture_on_commit_callbacks):
    campaign = ready(marketer, approver, people=10)
    with django_capture_on_commit_callbacks(execute=False):
        sending.campaign_start(campaign=campaign, user=marketer)
    sending.campaign_send_batch(campaign_id=campaign.id)
    lifecycle.campaign_cancel(campaign=campaign, user=marketer)
    assert sending.campaign_send_batch(campaign_id=campaign.id) == "stopped"
    assert Delivery.objects.filter(status="cancelled").count() == 3
    with pytest.raises(campaigns_models.CampaignError):
        sending.campaign_resume(campaign=campaign, user=marketer)


def test_it_sends_batches_through_the_esp_batch_api(marketer, approver, settings, django_capture_on_commit_callbacks):
    with MockMailgun() as esp:
        for name, value in esp.settings().items():
            setattr(settings, name, value)
        campaign = ready(marketer, approver, people=30, rate_per_second=20)
        start(campaign, marketer, django_capture_on_commit_callbacks)
    assert campaign.status == "completed"
    assert esp.counts() == {f"p{i:03d}@example.com": 1 for i in range(30)}
    assert esp.requests == 2  # 30 people at up to 20 per batch (the campaign's rate)
    got = {r.recipient: r for r in esp.received}
    r = got["p004@example.com"]
    assert not r.all_recipients_visible
    assert "Hi Name4," in r.text
    assert "<p>Hi Name4,</p>" in r.html
    delivery = Delivery.objects.get(email="p004@example.com")
    assert r.custom_data["delivery_id"] == str(delivery.id)
    assert links.delivery_from_reply_address(r.headers["Reply-To"]) == delivery.id
    assert r.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert delivery.esp_message_id == r.message_id


def test_it_retries_429_and_500_until_each_is_sent_once(
    marketer, approver, settings, django_capture_on_commit_callbacks
):
    settings.AMENDS_SEND_MAX_ATTEMPTS = 20
    with MockMailgun(fail_rate=0.5, seed=3) as esp:
        for name, value in esp.settings().items():
            setattr(settings, name, value)
        campaign = ready(marketer, approver, people=40, rate_per_second=10, pause_after_errors=50)
        start(campaign, marketer, django_capture_on_commit_callbacks)
    assert esp.failures > 0
    assert esp.counts() == {f"p{i:03d}@example.com": 1 for i in range(40)}
    assert campaign.status == "completed"


def test_it_pauses_itself_after_a_run_of_errors(marketer, approver, settings, django_capture_on_commit_callbacks):
    with MockMailgun(fail_first=100) as esp:
        for name, value in esp.settings().items():
            setattr(settings, name, value)
        campaign = ready(marketer, approver, people=10, rate_per_second=2, pause_after_errors=3)
        start(campaign, marketer, django_capture_on_commit_callbacks)
    assert campaign.status == "paused"
    assert "3 failed sends in a row" in campaign.paused_reason
    assert "429" in campaign.paused_reason
    assert esp.counts() == {}
    assert Delivery.objects.filter(status="queued").count() == 10


def test_it_classifies_esp_errors():
    import requests
    from anymail.exceptions import AnymailRecipientsRefused, AnymailRequestsAPIError

    def api_error(status):
        return AnymailRequestsAPIError("x", status_code=status)

    assert esp.classify(api_error(429)).kind == "retry"
    assert esp.classify(api_error(503)).kind == "retry"
    assert esp.classify(api_error(400)).kind == "failed"
    assert esp.classify(AnymailRecipientsRefused("all refused")).kind == "failed"
    timeout = type("E", (AnymailRequestsAPIError, requests.ReadTimeout), {})("read timed out")
    assert esp.classify(timeout).kind == "review"
    refused = type("E", (AnymailRequestsAPIError, requests.ConnectTimeout), {})("connect timed out")
    assert esp.classify(refused).kind == "retry"


def test_it_flags_deliveries_left_by_a_dead_worker_for_review(marketer, approver, django_capture_on_commit_callbacks):
    campaign = ready(marketer, approver, people=3)
    with django_capture_on_commit_callbacks(execute=False):
        sending.campaign_start(campaign=campaign, user=marketer)
    Delivery.objects.filter(email="p000@example.com").update(
        status="sending", claimed_at=timezone.now() - timedelta(hours=1)
    )
    assert sending.deliveries_reconcile() == 1
    stuck = Delivery.objects.get(email="p000@example.com")
    assert stuck.status == "review"
    sending.delivery_resolve(delivery=stuck, sent=True, user=approver)
    assert Delivery.objects.get(id=stuck.id).status == "sent"


def test_it_allows_one_apology_per_person_per_incident_in_the_database(marketer, approver):
    campaign = ready(marketer, approver, people=1)
    sending.deliveries_create(campaign=campaign)
    recipient = campaign.recipients.get()
    other = planning.campaign_create(incident=campaign.incident, name="again", author=marketer, allow_follow_up=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(
            campaign=other,
            recipient=other.recipients.get(),
            incident=campaign.incident,
            email=recipient.email,
            channel=Recipient.Channel.EMAIL,
        )
    Delivery.objects.create(
        campaign=other,
        recipient=other.recipients.get(),
        incident=campaign.incident,
        email=recipient.email,
        channel=Recipient.Channel.EMAIL,
        follow_up=True,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(
            campaign=campaign,
            recipient=recipient,
            incident=campaign.incident,
            email=recipient.email,
            channel=Recipient.Channel.EMAIL,
            follow_up=True,
        )


def test_it_sends_tests_to_the_seed_list_only(marketer, approver):
    campaign = ready(marketer, approver, people=2, seed_list="qa@amends.example\nboss@amends.example")
    recipient = campaign.recipients.first()
    sending.test_send(campaign=campaign, recipient=recipient, user=marketer)
    emails = list(CapturedEmail.objects.all())
    assert sorted(e.to for e in emails) == ["boss@amends.example", "qa@amends.example"]
    assert all(e.subject.startswith("[TEST] ") for e in emails)
    assert not Delivery.objects.exists()
