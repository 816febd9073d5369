"""Whatever the ledger looks like, a suppressed or opted-out address is never in any batch."""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apologies.campaigns import lifecycle, planning
from apologies.models import Delivery
from apologies.sending import esp
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, contact, person
from incidents.models import Suppression

pytestmark = pytest.mark.django_db

COUNTER = itertools.count()
REAL_SEND = esp.send_deliveries
STATES = ["subscribed", "unsubscribed", "complained", "bounced"]
REASONS = [None, None, "unsubscribed", "complained", "hard_bounce", "never_again", "manual"]

people_strategy = st.lists(
    st.tuples(
        st.sampled_from(STATES),
        st.booleans(),  # bounced flag
        st.sampled_from(REASONS),  # suppressed when planned
        st.sampled_from(REASONS),  # suppressed after approval, before sending
        st.sampled_from([None, "US", "DE"]),  # postal address country
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=people_strategy)
def test_it_never_puts_a_suppressed_address_in_a_batch(people, marketer, approver, settings, monkeypatch):
    settings.AMENDS_SINGLE_BATCH_SIZE = 4
    batches: list[list[str]] = []

    def spy(*, campaign, deliveries):
        batches.append([d.email for d in deliveries])
        yield from REAL_SEND(campaign=campaign, deliveries=deliveries)

    monkeypatch.setattr(esp, "send_deliveries", spy)
    run = next(COUNTER)
    incident = IncidentFactory()
    never = set()
    for i, (state, bounced, before, after, country) in enumerate(people):
        email = f"r{run}p{i}@example.com"
        person(incident, email, state=state, bounced=bounced)
        if country:
            contact(email, country=country)
        if before:
            Suppression.objects.create(email=email, reason=before)
        if before or after or state != "subscribed" or bounced:
            never.add(email)
    campaign = planning.campaign_create(incident=incident, name="p", author=marketer)
    if not campaign.recipients.exclude(channel="none").exists():
        return
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    for i, (_, _, _, after, _) in enumerate(people):
        if after:
            Suppression.objects.get_or_create(email=f"r{run}p{i}@example.com", reason=after)
    sending.campaign_start(campaign=campaign, user=marketer)
    while sending.campaign_send_batch(campaign_id=campaign.id) == "more":
        pass
    sent = {email for batch in batches for email in batch}
    assert not sent & never
    assert set(Delivery.objects.filter(campaign=campaign, status="sent").values_list("email", flat=True)) == (
        set(campaign.recipients.filter(channel="email").values_list("email", flat=True)) - never
    )
