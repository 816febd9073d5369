"""A database of the last release, with data in every table that moved rooms, migrates without losing a row."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

# The schema of the release before the rooms were drawn.
RELEASED = [("incidents", "0003_bulk_friendly_events"), ("apologies", "0003_letters")]
T0 = datetime(2026, 11, 20, 13, tzinfo=UTC)


def latest() -> list[tuple[str, str]]:
    """Today's leaf migrations of every app, so the test follows new migrations without edits."""
    graph = MigrationLoader(connection).graph
    return [node for node in graph.leaf_nodes() if node[0] in {"incidents", "apologies", "privacy"}]


@pytest.mark.django_db(transaction=True)
def test_it_keeps_every_row_of_the_released_schema(migrator):
    old = migrator.apply_initial_migration(RELEASED)
    get = old.apps.get_model
    user = get("auth", "User").objects.create(username="maya")
    incident = get("incidents", "Incident").objects.create(title="loop", started_at=T0, owner=user)
    get("incidents", "Contact").objects.create(email="jane@example.com", first_name="Jane", country="US")
    get("incidents", "Suppression").objects.create(email="gone@example.com", reason="unsubscribed")
    campaign = get("apologies", "Campaign").objects.create(incident=incident, name="Sorry", author=user)
    get("apologies", "CampaignTemplate").objects.create(campaign=campaign, subject="Sorry", text_body="We are sorry.")
    recipient = get("apologies", "Recipient").objects.create(
        campaign=campaign,
        email="jane@example.com",
        channel="email",
        reason="subscribed",
        tier=1,
        messages=25,
        first_at=T0,
        last_at=T0,
        max_in_10_min=25,
        state="subscribed",
        short_code="7AYAB96Q",
    )
    delivery = get("apologies", "Delivery").objects.create(
        campaign=campaign, recipient=recipient, incident=incident, email="jane@example.com", channel="email"
    )
    Event = get("apologies", "DeliveryEvent")
    for n, kind in enumerate(["delivered", "bounced", "complained"]):
        Event.objects.create(
            delivery=delivery,
            esp_event_id=f"Postmark:{n}",
            event_type=kind,
            recipient="jane@example.com",
            occurred_at=T0,
        )
    Reply = get("apologies", "Reply")
    for _ in range(2):  # one reply stored twice by a replayed webhook
        Reply.objects.create(campaign=campaign, delivery=delivery, from_email="jane@example.com", message_id="<r1@x>")
    Reply.objects.create(campaign=campaign, from_email="ann@example.com", message_id="")
    get("apologies", "Consent").objects.create(
        recipient=recipient,
        campaign=campaign,
        email="jane@example.com",
        choice="resubscribe",
        via="email_link",
        channel="email",
        text_shown="Yes, sign me up again",
    )
    get("apologies", "GiftPackage").objects.create(name="Rose", sku="ROSE-01", unit_cost=Decimal("9.50"), stock=10)

    new = migrator.apply_tested_migration(latest())

    get = new.apps.get_model
    assert get("incidents", "Incident").objects.get().owner.username == "maya"
    assert get("incidents", "Contact").objects.get().email == "jane@example.com"
    assert list(get("incidents", "Suppression").objects.values_list("email", "reason")) == [
        ("gone@example.com", "unsubscribed")
    ]
    campaign = get("apologies", "Campaign").objects.get()
    assert (campaign.name, campaign.status, campaign.approved_parts) == ("Sorry", "draft", {})
    assert get("apologies", "CampaignTemplate").objects.get().text_body == "We are sorry."
    assert get("apologies", "Recipient").objects.get().email == "jane@example.com"
    assert get("apologies", "Delivery").objects.get().email == "jane@example.com"
    events = dict(get("apologies", "DeliveryEvent").objects.values_list("event_type", "person_state"))
    assert events == {"delivered": "", "bounced": "bounced", "complained": "complained"}
    replies = sorted(get("apologies", "Reply").objects.values_list("from_email", "message_id"))
    assert replies == [("ann@example.com", ""), ("jane@example.com", "<r1@x>")]  # the replay is gone
    assert get("apologies", "Consent").objects.get().text_shown == "Yes, sign me up again"
    assert get("apologies", "GiftPackage").objects.get().sku == "ROSE-01"
    migrator.reset()
