"""A person known everywhere: send log, ledger, contact, suppression, campaign, outbox, replies, consents, files."""

from __future__ import annotations

import gzip
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apologies.campaigns import lifecycle, planning
from apologies.models import (
    AuditEvent,
    CapturedEmail,
    Consent,
    DeliveryEvent,
    Letter,
    LetterBatch,
    LetterPreview,
    LetterPreviewPage,
    Reply,
)
from apologies.sending import services as sending
from conftest import make_user
from incidents import ledger
from incidents.models import Contact, Import, Incident, Suppression
from incidents.tests.factories import T0, IncidentFactory, burst, write_ndjson

ZOE = "zoe.erase@example.com"
SAM = "sam.keep@example.com"


@pytest.fixture
def zoe_everywhere(db, marketer_client, tmp_path, settings, django_capture_on_commit_callbacks) -> Incident:
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    incident = IncidentFactory()
    events = burst("Zoe.Erase@Example.com", 6, prefix="zoe") + burst(SAM, 2, prefix="sam")
    log = write_ndjson(tmp_path / "events.ndjson.gz", events, gz=True)
    with django_capture_on_commit_callbacks(execute=True):
        marketer_client.post(
            reverse("incidents:upload", args=[incident.id]),
            {"file": SimpleUploadedFile("events.ndjson.gz", log.read_bytes()), "format": "auto"},
        )
        marketer_client.post(
            reverse("incidents:contact_upload"),
            {"file": SimpleUploadedFile("people.csv", f"Email,First Name\n{ZOE},Zoë\n{SAM},Sam\n".encode())},
        )
    # A failed upload keeps its raw file too.
    failed = Import.objects.create(kind=Import.Kind.CONTACTS, original_name="broken.csv", status="failed")
    failed.file.save("broken.csv.gz", SimpleUploadedFile("b", gzip.compress(f"Email\n{ZOE}\n\x00bad".encode())))
    assert Import.objects.filter(incident=incident, status="done").exists(), list(Import.objects.values())
    ledger.ledger_compute(incident=incident)

    Contact.objects.filter(email=ZOE).update(
        first_name="Zoë", last_name="Doe", address_line1="10 Downing St", city="London", country="GB"
    )
    Suppression.objects.create(email=ZOE, reason="unsubscribed", source=f"webhook for {ZOE}")
    marketer = make_user("mo", "marketer")
    approver = make_user("al", "approver")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    campaign.seed_list = f"{ZOE}\nstaff@example.org"
    campaign.save()
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_start(campaign=campaign, user=approver)
    CapturedEmail.objects.create(
        to=ZOE, from_email="sorry@amends.localhost", subject="Confirm", text=f"Confirm for {ZOE}", headers={"To": ZOE}
    )
    recipient = campaign.recipients.get(email=ZOE)
    delivery = recipient.deliveries.first() or campaign.deliveries.create(
        recipient=recipient, incident=incident, email=ZOE, channel="letter"
    )
    DeliveryEvent.objects.create(
        delivery=delivery,
        esp_event_id="ev-zoe-1",
        event_type="opened",
        recipient=ZOE,
        occurred_at=T0 + timedelta(days=1),
        raw={"recipient": ZOE, "ua": "Mail"},
    )
    Reply.objects.create(campaign=campaign, delivery=delivery, from_email=ZOE, subject="Re", text=f"I am {ZOE}")
    Consent.objects.create(
        recipient=recipient,
        campaign=campaign,
        email=ZOE,
        choice="never_again",
        via="email_link",
        channel="email",
        text_shown="Never contact z***@example.com again",
        ip="203.0.113.7",
        user_agent="Firefox",
    )
    batch = LetterBatch.objects.create(campaign=campaign, number=1, page_size="letter", status="ready")
    batch.archive.save("batch.zip", SimpleUploadedFile("z", b"PK\x03\x04 not really"), save=True)
    Letter.objects.create(
        batch=batch,
        campaign=campaign,
        delivery=delivery,
        recipient=recipient,
        sequence=1,
        name="Zoë Doe",
        address="Zoë Doe\n10 Downing St\nLondon",
        country="GB",
        short_code=recipient.short_code,
    )
    AuditEvent.objects.create(campaign=campaign, action="override", detail=f"{ZOE} moved to letter")
    drawn = LetterPreview.objects.create(
        recipient=recipient, version="v1", status="ready", pdf=f"%PDF Zoë Doe {ZOE}".encode(), requested_at=T0
    )
    LetterPreviewPage.objects.create(preview=drawn, number=1, png=b"\x89PNG Zoe Doe")
    return incident
