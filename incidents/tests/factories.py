"""Factories and send-log builders shared by the tests of incidents (and apologies)."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import factory
import orjson

from incidents.models import Contact, Incident, Suppression

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    title = factory.Sequence(lambda n: f"Runaway workflow {n}")
    what_happened = "A workflow update re-sent the welcome email in a loop."
    started_at = T0
    ended_at = T0 + timedelta(hours=2)
    workflows = factory.LazyFunction(lambda: ["wf-bad"])
    fix = "We're changing how we manage workflow updates."


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    first_name = "Jane"
    last_name = "Doe"
    address_line1 = "1600 Amphitheatre Pkwy"
    city = "Mountain View"
    region = "CA"
    postal_code = "94043"
    country = "US"
    language = "en"
    address_valid = True


class SuppressionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Suppression

    email = factory.Sequence(lambda n: f"suppressed{n}@example.com")
    reason = Suppression.Reason.UNSUBSCRIBED


def sg(
    email: str, event: str, at: datetime, msg: str, *, category="wf-bad", event_id: str | None = None, **extra
) -> dict:
    """One SendGrid Event Webhook event."""
    ev = {
        "email": email,
        "event": event,
        "timestamp": int(at.timestamp()),
        "sg_message_id": f"{msg}.filter0001",
        "category": category,
        **extra,
    }
    if event_id is not None:
        ev["sg_event_id"] = event_id
    return ev


def write_ndjson(path: Path, events: list[dict], *, gz: bool = False) -> Path:
    data = b"".join(orjson.dumps(e) + b"\n" for e in events)
    if gz:
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def burst(email: str, count: int, *, start: datetime = T0, every: int = 20, prefix: str | None = None) -> list[dict]:
    """`count` messages to one person, each processed + delivered, one every `every` seconds."""
    prefix = prefix or email.split("@")[0]
    events = []
    for i in range(count):
        at = start + timedelta(seconds=i * every)
        events.append(sg(email, "processed", at, f"{prefix}-{i}", event_id=f"{prefix}-{i}-p"))
        events.append(sg(email, "delivered", at + timedelta(seconds=1), f"{prefix}-{i}", event_id=f"{prefix}-{i}-d"))
    return events
