"""The vocabulary migration: rows written with our old words survive with anymail's."""

import uuid
from datetime import UTC, datetime

import pytest

OLD_TO_NEW = {
    "sent": "sent",
    "delivered": "delivered",
    "dropped": "rejected",
    "resubscribed": "subscribed",
    "bounced": "bounced",
    "unsubscribed": "unsubscribed",
}


@pytest.mark.django_db(transaction=True)
def test_it_rewrites_every_send_event_to_the_new_vocabulary(migrator):
    old = migrator.apply_initial_migration(("incidents", "0003_bulk_friendly_events"))
    Incident = old.apps.get_model("incidents", "Incident")
    SendEvent = old.apps.get_model("incidents", "SendEvent")
    incident = Incident.objects.create(title="loop", started_at=datetime(2026, 11, 20, tzinfo=UTC))
    for word in OLD_TO_NEW:
        SendEvent.objects.create(
            incident=incident,
            key=uuid.uuid4(),
            recipient=f"{word}@example.com",
            occurred_at=datetime(2026, 11, 20, 13, tzinfo=UTC),
            event=word,
        )

    new = migrator.apply_tested_migration(("incidents", "0005_event_vocabulary"))

    SendEvent = new.apps.get_model("incidents", "SendEvent")
    rows = dict(SendEvent.objects.values_list("recipient", "event"))
    assert rows == {f"{old}@example.com": new for old, new in OLD_TO_NEW.items()}
    migrator.reset()
