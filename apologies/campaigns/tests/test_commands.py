import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apologies.models import Campaign
from apologies.tests.factories import IncidentFactory, contact, person

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_creates_a_campaign_for_the_whole_ledger_and_reports_it(marketer):
    incident = IncidentFactory(owner=marketer)
    person(incident, "a@example.com")
    person(incident, "b@example.com", state="unsubscribed")
    contact("b@example.com")
    person(incident, "c@example.com", state="complained")
    campaign = Campaign.objects.get(id=int(run("create_campaign", str(incident.id), "--name", "Sorry").strip()))
    assert campaign.author == marketer
    assert campaign.templates.count() == 1
    status = json.loads(run("campaign_status", str(campaign.id)))
    assert status["status"] == "draft"
    assert status["channels"] == {"email": 1, "letter": 1, "none": 1}
    assert status["reasons"] == {"email:subscribed": 1, "letter:unsubscribed": 1, "none:complained": 1}
    assert status["deliveries"] == {}


def test_it_refuses_an_unknown_incident():
    with pytest.raises(CommandError, match="No incident"):
        run("create_campaign", "999", "--name", "x")
