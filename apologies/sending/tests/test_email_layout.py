"""The apology email as people receive it: branded responsive layout, dark-mode readable, plain text kept,
a visible unsubscribe link and postal address, and the ETA from the measured rate."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apologies.campaigns import lifecycle, planning
from apologies.models import CapturedEmail, Delivery
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, contact, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(marketer, approver, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    incident = IncidentFactory()
    person(incident, "one@example.com", messages=1)
    contact("one@example.com", first_name="Uno")
    person(incident, "many@example.com", messages=25)
    campaign = planning.campaign_create(
        incident=incident,
        name="Sorry",
        author=marketer,
        brand_name="The MINI USA team",
        brand_color="#0b3d91",
        brand_logo="https://cdn.mini.example/logo.png",
        from_address="sorry@mini.example",
        postal_address="MINI USA, 300 Chestnut Ridge Rd, Woodcliff Lake, NJ 07677",
    )
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_start(campaign=campaign, user=approver)
    return campaign


def test_it_sends_a_branded_responsive_email_with_its_plain_text_part(sent):
    email = CapturedEmail.objects.get(to="one@example.com")
    delivery = Delivery.objects.get(email="one@example.com")
    assert email.from_email == "The MINI USA team <sorry@mini.example>"
    html = email.html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "@media (prefers-color-scheme: dark)" in html and "@media (max-width: 620px)" in html
    assert "sans-serif" in html and "serif;" not in html.replace("sans-serif", "")
    assert "border-top: 6px solid #0b3d91" in html
    assert '<img src="https://cdn.mini.example/logo.png" alt="The MINI USA team"' in html
    # Visible in both parts: the email's own unsubscribe link and the postal address (CAN-SPAM, Gmail/Yahoo).
    unsubscribe = f"/u/{delivery.id}."
    for part in (html, email.text):
        assert unsubscribe in part and "300 Chestnut Ridge Rd" in part
    assert "you received 1 email from us" in email.text and "<" not in email.text.split("--")[0]
    assert "you received 25 emails" in CapturedEmail.objects.get(to="many@example.com").text


def test_it_estimates_the_time_left_from_the_measured_rate(sent):
    campaign = sent
    now = timezone.now()
    campaign.started_at = now - timedelta(seconds=4)
    campaign.status = "sending"
    campaign.save()
    Delivery.objects.filter(campaign=campaign).update(status="sent", sent_at=now)
    queued = Delivery.objects.filter(campaign=campaign).first()
    Delivery.objects.filter(id=queued.id).update(status="queued")
    progress = sending.campaign_progress(campaign=campaign)
    # 1 sent in the 4 s since the start: 0.25 a second, so 1 left is 4 s, not 30 (1 / (1 / 30 s)).
    assert progress["rate"] == 0.2 or progress["rate"] == 0.3
    assert progress["eta_seconds"] == 4
