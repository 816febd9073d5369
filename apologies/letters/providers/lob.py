"""Lob (lob.com) as a print-and-mail provider: US and international verification, letters, tracking webhooks.

From Lob's published API description: HTTP basic auth with the API key as user name; `POST /v1/letters`
(multipart, with the PDF as `file`) and an `Idempotency-Key` header, so a retried request never prints a
second letter; `POST /v1/us_verifications` and `/v1/intl_verifications` answer a `deliverability`; webhooks
POST an event object (`id`, `event_type.id` such as `letter.mailed`, `body` the letter with its `metadata`),
signed with `Lob-Signature`: hex HMAC-SHA256 of `<Lob-Signature-Timestamp>.<raw body>` under the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import date, datetime

import requests
from django.conf import settings
from django.utils.dateparse import parse_datetime

from apologies.letters.providers.base import (
    Address,
    ProviderError,
    Sent,
    SignatureError,
    Tracking,
    TrackingEvent,
    Verification,
)

# Lob's event types for letters, read into our kinds.
EVENT_KINDS = {
    "letter.created": Tracking.CREATED,
    "letter.mailed": Tracking.MAILED,
    "letter.in_transit": Tracking.IN_TRANSIT,
    "letter.in_local_area": Tracking.IN_TRANSIT,
    "letter.processed_for_delivery": Tracking.IN_TRANSIT,
    "letter.re-routed": Tracking.IN_TRANSIT,
    "letter.delivered": Tracking.DELIVERED,
    "letter.certified.delivered": Tracking.DELIVERED,
    "letter.returned_to_sender": Tracking.RETURNED,
    "letter.certified.returned_to_sender": Tracking.RETURNED,
}
DELIVERABLE = {
    "deliverable",
    "deliverable_unnecessary_unit",
    "deliverable_incorrect_unit",
    "deliverable_missing_unit",
    "deliverable_missing_info",
}


class Lob:
    name = "lob"

    def __init__(self, *, api_key: str | None = None, url: str | None = None, webhook_secret: str | None = None):
        self.api_key = api_key if api_key is not None else settings.AMENDS_LOB_API_KEY
        self.url = (url or settings.AMENDS_LOB_API_URL).rstrip("/")
        self.webhook_secret = webhook_secret if webhook_secret is not None else settings.AMENDS_LOB_WEBHOOK_SECRET
        self.session = requests.Session()
        self.session.auth = (self.api_key, "")

    def _post(self, path: str, *, headers: dict | None = None, **kwargs) -> dict:
        try:
            response = self.session.post(
                f"{self.url}{path}", headers=headers, timeout=settings.AMENDS_PROVIDER_TIMEOUT, **kwargs
            )
        except requests.RequestException as e:
            # The letter may or may not exist now: retrying with the same idempotency key is safe.
            raise ProviderError(f"Lob did not answer: {e}", retry=True) from e
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400:
            message = (body.get("error") or {}).get("message") or response.text[:300]
            retry = response.status_code == 429 or response.status_code >= 500
            raise ProviderError(f"Lob {response.status_code}: {message}", retry=retry, status=response.status_code)
        return body

    def verify(self, address: Address) -> Verification | None:
        if address.country.upper() == "US":
            body = self._post(
                "/us_verifications",
                json={
                    "primary_line": address.line1,
                    "secondary_line": address.line2,
                    "city": address.city,
                    "state": address.region,
                    "zip_code": address.postal_code,
                },
            )
        else:
            body = self._post(
                "/intl_verifications",
                json={
                    "primary_line": address.line1,
                    "secondary_line": address.line2,
                    "city": address.city,
                    "state": address.region,
                    "postal_code": address.postal_code,
                    "country": address.country.upper(),
                },
            )
        verdict = body.get("deliverability", "")
        return Verification(deliverable=verdict in DELIVERABLE, verdict=verdict, detail=json.dumps(body)[:500])

    @staticmethod
    def address_fields(prefix: str, a: Address) -> dict:
        fields = {
            "name": a.name[:40],
            "address_line1": a.line1,
            "address_line2": a.line2,
            "address_city": a.city,
            "address_state": a.region,
            "address_zip": a.postal_code,
            "address_country": a.country.upper(),
        }
        return {f"{prefix}[{k}]": v for k, v in fields.items() if v}

    def send(self, *, key: str, to: Address, sender: Address, pdf: bytes, description: str, metadata: dict) -> Sent:
        data = {
            **self.address_fields("to", to),
            **self.address_fields("from", sender),
            "description": description[:255],
            "color": "false",
            "double_sided": "true",
            "use_type": "operational",
            # Lob prints the address on a page of its own: the PDF's window address is not relied on.
            "address_placement": "insert_blank_page",
            **{f"metadata[{k}]": str(v) for k, v in metadata.items()},
        }
        body = self._post(
            "/letters",
            headers={"Idempotency-Key": key},
            data=data,
            files={"file": ("letter.pdf", pdf, "application/pdf")},
        )
        expected = body.get("expected_delivery_date")
        return Sent(
            provider_id=body.get("id", ""),
            expected_delivery=date.fromisoformat(expected) if expected else None,
            raw={k: body.get(k) for k in ("id", "expected_delivery_date", "send_date", "carrier")},
        )

    def signature_ok(self, body: bytes, headers: Mapping[str, str]) -> bool:
        signature = headers.get("Lob-Signature", "")
        stamp = headers.get("Lob-Signature-Timestamp", "")
        if not (self.webhook_secret and signature and stamp):
            return False
        try:
            age = abs(time.time() - int(stamp) / (1000 if len(stamp) > 11 else 1))
        except ValueError:
            return False
        if age > settings.AMENDS_PROVIDER_WEBHOOK_TOLERANCE_SECONDS:
            return False
        expected = hmac.new(self.webhook_secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    def tracking_event(self, *, body: bytes, headers: Mapping[str, str]) -> TrackingEvent | None:
        if not self.signature_ok(body, headers):
            raise SignatureError("Lob webhook signature missing, stale or wrong")
        event = json.loads(body)
        name = (event.get("event_type") or {}).get("id", "")
        letter = event.get("body") or {}
        if not name.startswith("letter.") or not letter.get("id"):
            return None
        metadata = letter.get("metadata") or {}
        raw_id = str(metadata.get("delivery_id", ""))
        occurred = parse_datetime(event.get("date_created") or "") or datetime.now().astimezone()
        return TrackingEvent(
            event_id=event.get("id", ""),
            provider_id=letter["id"],
            kind=EVENT_KINDS.get(name, Tracking.OTHER),
            occurred_at=occurred,
            name=name,
            delivery_id=int(raw_id) if raw_id.isdigit() else None,
            raw={"id": event.get("id"), "event_type": name, "letter": letter.get("id"), "metadata": metadata},
        )
