"""People another campaign already apologised to for the incident are counted before sending, not only skipped."""

import pytest

from apologies.campaigns import lifecycle, planning
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident():
    incident = IncidentFactory(what_happened="A loop sent you 25 emails.", fix="We stopped the loop.")
    for i in range(3):
        person(incident, f"p{i}@example.com")
    return incident


def test_it_counts_and_shows_the_people_another_campaign_already_apologised_to(
    incident, marketer, approver, client, settings
):
    settings.EMAIL_BACKEND = "apologies.sending.outbox.CapturedEmailBackend"
    first = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    second = planning.campaign_create(incident=incident, name="Sorry again", author=marketer)
    assert planning.recipients_already_apologised(campaign=second) == 0
    lifecycle.campaign_submit(campaign=first, user=marketer)
    lifecycle.campaign_approve(campaign=first, user=approver)
    first.refresh_from_db()
    sending.campaign_start(campaign=first, user=approver)

    assert planning.recipients_already_apologised(campaign=second) == 3
    assert planning.recipients_already_apologised(campaign=first) == 0
    client.force_login(approver)
    html = client.get(second.get_absolute_url()).content.decode()
    assert "3 of 3 people here already had an apology for this incident</strong> from another campaign" in html
    # A follow-up is a second apology on purpose: nobody is skipped, nothing to say.
    second.allow_follow_up = True
    second.save()
    assert planning.recipients_already_apologised(campaign=second) == 0
    assert "already had an apology" not in client.get(second.get_absolute_url()).content.decode()
