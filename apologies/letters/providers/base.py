"""What Amends needs of a print-and-mail provider: verify an address, send one letter once, read tracking events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str


@dataclass(frozen=True)
class Verification:
    """The provider's verdict on an address: deliverable or not, in its own words."""

    deliverable: bool
    verdict: str
    detail: str = ""


@dataclass(frozen=True)
class Sent:
    provider_id: str
    expected_delivery: date | None = None
    raw: dict = field(default_factory=dict)


class Tracking:
    """The kinds of tracking event every provider's events are read into, in the order a letter lives them."""

    CREATED = "created"
    MAILED = "mailed"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    RETURNED = "returned"
    OTHER = "other"
    ORDER = [CREATED, MAILED, IN_TRANSIT, DELIVERED, RETURNED]


@dataclass(frozen=True)
class TrackingEvent:
    event_id: str
    provider_id: str
    kind: str
    occurred_at: datetime
    name: str
    delivery_id: int | None = None
    raw: dict = field(default_factory=dict)


class ProviderError(Exception):
    """A refused or failed call; `retry` when trying again later may work (429, 5xx, the network)."""

    def __init__(self, message: str, *, retry: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.status = status


class SignatureError(Exception):
    """A tracking webhook whose signature does not check out: refused, never applied."""


class LetterProvider(Protocol):
    name: str

    def verify(self, address: Address) -> Verification | None:
        """The provider's verdict, or None where it offers no verification for that country."""

    def send(self, *, key: str, to: Address, sender: Address, pdf: bytes, description: str, metadata: dict) -> Sent:
        """Create one letter; the same `key` never makes a second one (the provider's idempotency key)."""

    def tracking_event(self, *, body: bytes, headers: Mapping[str, str]) -> TrackingEvent | None:
        """A signed webhook's event, read; None for an event about something else. Raises SignatureError."""
