"""Tests of the demo command (`make run` loads it): an incident, its ledger and a campaign ready to walk through."""

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from apologies.campaigns import lifecycle
from apologies.campaigns.models import Campaign, Recipient
from apologies.letters.models import address_lines
from incidents.models import Incident

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_loads_the_demo_once():
    run("demo", "--people", "60", "--force")
    incident = Incident.objects.get()
    assert incident.ledger_stats["people"] > 50
    assert "already" in run("demo", "--people", "60", "--force")


def test_it_gives_the_demo_campaign_letters_that_can_be_approved_and_printed():
    run("demo", "--people", "60", "--force")
    campaign = Campaign.objects.get(name="Our apology")
    assert campaign.recipients.filter(channel=Recipient.Channel.LETTER).exists()
    assert len(address_lines(campaign.letter_settings.return_address)) >= 2
    assert lifecycle.letters_problems(campaign) == []
    lifecycle.campaign_submit(campaign=campaign, user=User.objects.get(username="marketer"))
    lifecycle.campaign_approve(campaign=campaign, user=User.objects.get(username="approver"))
