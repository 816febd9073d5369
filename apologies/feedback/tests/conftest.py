"""Fixtures of the replies tests: a campaign with one person, and the apology sent to them."""

import pytest

from apologies.campaigns import planning
from apologies.models import Campaign, Delivery
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, person


@pytest.fixture
def campaign(marketer) -> Campaign:
    incident = IncidentFactory()
    person(incident, "jane@example.com")
    return planning.campaign_create(incident=incident, name="Sorry for the 25 emails", author=marketer)


@pytest.fixture
def sent(campaign) -> Delivery:
    sending.deliveries_create(campaign=campaign)
    Delivery.objects.update(status="sent")
    return Delivery.objects.get()
