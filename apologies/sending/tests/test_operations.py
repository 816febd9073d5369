"""Operating sends: the emergency stop for every campaign, and log lines that carry their ids."""

import logging

import pytest
from django.core.management import call_command

from apologies.campaigns import lifecycle, planning
from apologies.models import AuditEvent, Campaign
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, person

pytestmark = pytest.mark.django_db


def sending_campaign(marketer, approver, monkeypatch, n: int = 2) -> Campaign:
    incident = IncidentFactory()
    for i in range(n):
        person(incident, f"p{i}@example.com")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    with monkeypatch.context() as m:
        m.setattr(sending, "senders_enqueue", lambda campaign: None)
        sending.campaign_start(campaign=campaign, user=approver)
    campaign.refresh_from_db()
    return campaign


def test_it_pauses_every_sending_campaign_from_the_command_line(marketer, approver, monkeypatch, capsys, settings):
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    one, two = (sending_campaign(marketer, approver, monkeypatch) for _ in range(2))
    draft = planning.campaign_create(incident=IncidentFactory(), name="Draft", author=marketer)

    call_command("pause_all", "--reason", "ESP reports a loop")

    assert f"Paused 2 campaign(s): {one.id}, {two.id}" in capsys.readouterr().out
    for campaign in (one, two):
        campaign.refresh_from_db()
        assert campaign.status == "paused" and "ESP reports a loop" in campaign.paused_reason
        assert sending.campaign_send_batch(campaign_id=campaign.id) == "stopped"
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert AuditEvent.objects.filter(action="paused (all campaigns)", detail="ESP reports a loop").count() == 2


def test_it_logs_each_send_with_its_incident_campaign_and_delivery_ids(
    marketer, approver, monkeypatch, caplog, settings
):
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    campaign = sending_campaign(marketer, approver, monkeypatch)
    with caplog.at_level(logging.INFO, logger="amends.send"):
        while sending.campaign_send_batch(campaign_id=campaign.id) == "more":
            pass
    ids = sorted(campaign.deliveries.values_list("id", flat=True))
    sent = [r for r in caplog.records if r.getMessage().startswith("send.batch_sent")]
    assert sent and sorted(i for r in sent for i in r.amends["delivery_ids"]) == ids
    line = sent[0].getMessage()
    assert f"incident_id={campaign.incident_id}" in line and f"campaign_id={campaign.id}" in line
    assert any(r.getMessage().startswith("send.completed") for r in caplog.records)
