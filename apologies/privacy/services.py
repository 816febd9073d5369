"""One person's data: the hashed never-email list (email_hash, is_erased, erased_among), export and erasure."""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from collections.abc import Iterable

from auditlog.context import disable_auditlog
from django.conf import settings
from django.core import serializers
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apologies.models import (
    CapturedEmail,
    Consent,
    Delivery,
    DeliveryEvent,
    Letter,
    LetterBatch,
    LetterPreview,
    Recipient,
    Reply,
)
from incidents.auditlog.services import audit_record
from incidents.contacts import suppressions
from incidents.models import AffectedPerson, Contact, SendEvent, Suppression

from .files import import_files_erase
from .models import ErasedAddress, Erasure, held_label
from .sweep import sweep

# What an erased address becomes where a row is kept for its figures: a name that can never be delivered
# (RFC 2606 reserves .invalid) and never matches the person again.
ERASED_DOMAIN = "erased.invalid"


def email_normalise(email: str) -> str:
    return unicodedata.normalize("NFC", email).strip().lower()


def email_hash(email: str) -> str:
    """HMAC-SHA256 of the normalised address with settings.PRIVACY_PEPPER: what is kept of an erased person."""
    return hmac.new(settings.PRIVACY_PEPPER.encode(), email_normalise(email).encode(), hashlib.sha256).hexdigest()


def placeholder_for(email: str) -> str:
    return f"erased-{email_hash(email)[:16]}@{ERASED_DOMAIN}"


def is_erased(email: str) -> bool:
    """True for an address erased on request, or for the placeholder that took its place."""
    return bool(erased_among([email]))


def erased_among(emails: Iterable[str]) -> set[str]:
    """The given addresses (as given) that must never be emailed: erased people and erasure placeholders."""
    by_hash: dict[str, list[str]] = {}
    found: set[str] = set()
    for email in emails:
        if email_normalise(email).endswith("@" + ERASED_DOMAIN):
            found.add(email)
        else:
            by_hash.setdefault(email_hash(email), []).append(email)
    hashes = list(by_hash)
    for start in range(0, len(hashes), 500):
        chunk = hashes[start : start + 500]
        for h in ErasedAddress.objects.filter(email_hash__in=chunk).values_list("email_hash", flat=True):
            found.update(by_hash[h])
    return found


def _held(email: str) -> dict[str, QuerySet]:
    """Every row held about the person, by kind; the same list drives the export and the erasure."""
    recipients = Recipient.objects.filter(email=email)
    deliveries = Delivery.objects.filter(Q(email=email) | Q(recipient__in=recipients))
    return {
        "contact": Contact.objects.filter(email=email),
        "suppressions": Suppression.objects.filter(email=email),
        "send_events": SendEvent.objects.filter(Q(recipient=email) | Q(recipient_raw__iexact=email)),
        "ledger_rows": AffectedPerson.objects.filter(email=email),
        "recipients": recipients,
        "deliveries": deliveries,
        "tracking_events": DeliveryEvent.objects.filter(Q(recipient__iexact=email) | Q(delivery__in=deliveries)),
        "letters": Letter.objects.filter(Q(recipient__in=recipients) | Q(delivery__in=deliveries)),
        "replies": Reply.objects.filter(Q(from_email__iexact=email) | Q(delivery__in=deliveries)),
        "consents": Consent.objects.filter(Q(email=email) | Q(recipient__in=recipients)),
        "outbox_copies": CapturedEmail.objects.filter(to__icontains=email),
    }


def person_summary(*, email: str) -> dict[str, int]:
    """How many rows of each kind are held about the person, by the kind's label: what the privacy page shows."""
    return {held_label(kind): qs.count() for kind, qs in _held(email_normalise(email)).items()}


def person_export(*, email: str, user=None) -> dict:
    """Everything held about one person (GDPR Art. 15), as JSON-ready data; the export itself is audited."""
    email = email_normalise(email)
    data: dict = {
        "email": email,
        "exported_at": timezone.now().isoformat(),
        "erased": is_erased(email),
    }
    for kind, qs in _held(email).items():
        data[kind] = [
            {"model": row["model"], "id": row["pk"], **row["fields"]}
            for row in json.loads(serializers.serialize("json", qs.order_by("pk")))
        ]
    if user is not None:
        total = sum(len(v) for v in data.values() if isinstance(v, list))
        audit_record(
            user=user, action="privacy.export", target=f"person {email_hash(email)[:12]}", detail=f"{total} rows"
        )
    return data


def person_export_json(*, email: str, user=None) -> str:
    return json.dumps(person_export(email=email, user=user), cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)


def person_erase(*, email: str, user=None, reason: str = "") -> Erasure:
    """Erase one person (GDPR Art. 17): remove or anonymise every row and raw file that names them, keep a hash.

    Rows that carry figures (ledger rows, send events, recipients, deliveries, consents) stay with the address
    replaced by an undeliverable placeholder; the person's own words and details (contact, replies, outbox
    copies, tracking payloads, letter addresses) are deleted or blanked; suppressions become one hashed entry.
    """
    email = email_normalise(email)
    digest = email_hash(email)
    placeholder = placeholder_for(email)
    counts: dict[str, int] = {}
    with transaction.atomic(), disable_auditlog():
        held = _held(email)
        incident_ids = set(held["ledger_rows"].values_list("incident_id", flat=True))
        incident_ids |= set(held["send_events"].values_list("incident_id", flat=True).distinct())
        batch_ids = set(held["letters"].values_list("batch_id", flat=True))
        ErasedAddress.objects.get_or_create(email_hash=digest)

        # Drawn previews print the name and address; they are made again on request, so they go.
        counts["letter_previews"] = LetterPreview.objects.filter(recipient__in=held["recipients"]).delete()[0]
        counts["replies"] = held["replies"].delete()[0]
        counts["outbox_copies"] = held["outbox_copies"].delete()[0]
        counts["tracking_events"] = held["tracking_events"].update(recipient="", raw={}, description="")
        counts["letters"] = held["letters"].update(name="", address="", postal_code="")
        counts["consents"] = held["consents"].update(email=placeholder, ip=None, user_agent="", text_shown="")
        counts["deliveries"] = held["deliveries"].update(email=placeholder, error="")
        counts["recipients"] = held["recipients"].update(email=placeholder, contact=None, detail="")
        counts["ledger_rows"] = held["ledger_rows"].update(email=placeholder)
        counts["send_events"] = held["send_events"].update(recipient=placeholder, recipient_raw="", detail="")
        counts["suppressions"] = suppressions.suppressions_erase(email=email)
        counts["contact"] = held["contact"].delete()[0]
        counts["letter_batch_files"] = _batch_files_delete(batch_ids)
        counts["import_files"] = import_files_erase(email=email, incident_ids=incident_ids)
        for label, n in sweep(email=email, placeholder=placeholder).items():
            counts[f"elsewhere:{label}"] = n
        erasure = Erasure.objects.create(
            by=user if user is not None and user.is_authenticated else None,
            by_username=user.get_username() if user is not None and user.is_authenticated else "",
            email_hash=digest,
            reason=reason[:300],
            counts=counts,
        )
        audit_record(
            user=user,
            action="privacy.erase",
            target=f"person {digest[:12]}",
            detail=", ".join(f"{k}: {v}" for k, v in counts.items() if v),
        )
    return erasure


def _batch_files_delete(batch_ids: set[int]) -> int:
    """The mail house's PDFs and ZIPs print the person's name and address: remove the files of their batches."""
    removed = 0
    for batch in LetterBatch.objects.filter(id__in=batch_ids):
        for field in (batch.pdf, batch.archive):
            if field and default_storage.exists(field.name):
                default_storage.delete(field.name)
                removed += 1
        LetterBatch.objects.filter(pk=batch.pk).update(pdf="", archive="")
    return removed
