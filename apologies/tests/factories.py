from __future__ import annotations

from datetime import timedelta

from incidents.models import AffectedPerson, Contact
from incidents.tests.factories import T0, IncidentFactory  # noqa: F401 - re-exported for apology tests


def person(
    incident, email: str, *, state: str = "subscribed", messages: int = 3, bounced: bool = False
) -> AffectedPerson:
    return AffectedPerson.objects.create(
        incident=incident,
        email=email,
        messages=messages,
        first_at=T0,
        last_at=T0 + timedelta(minutes=messages),
        max_in_10_min=min(messages, 25),
        bounced=bounced,
        state=state,
        tier=incident.tier_for(messages),
    )


def contact(email: str, *, country: str = "US", valid: bool = True, first_name: str = "Jane", **fields) -> Contact:
    defaults = {
        "US": ("1600 Amphitheatre Pkwy", "Mountain View", "CA", "94043"),
        "DE": ("Invalidenstraße 1", "Berlin", "", "10115"),
        "GB": ("10 Downing St", "London", "", "SW1A 2AA"),
        "FR": ("1 rue de Rivoli", "Paris", "", "75001"),
        "ES": ("Calle de Alcalá 1", "Madrid", "", "28014"),
    }[country]
    line1, city, region, postal = defaults
    return Contact.objects.create(
        email=email,
        first_name=first_name,
        last_name=fields.pop("last_name", "Doe"),
        address_line1=line1,
        city=city,
        region=region,
        postal_code=postal,
        country=country,
        language=fields.pop("language", "en"),
        address_valid=valid,
        address_problems="" if valid else "postal code not valid",
        **fields,
    )
