"""Contacts: checking and saving them, and imports of contact lists and of ESP suppression exports."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from incidents.contacts.countries import country_code
from incidents.contacts.languages import country_languages, language_code
from incidents.sendlogs import FormatError, Rejected
from incidents.sendlogs.csv_records import open_csv
from incidents.sendlogs.readers import Limits

from .addresses import address_check
from .models import Contact, Suppression
from .suppressions import suppression_add_many, suppression_reason

CONTACT_COLUMNS = {
    "email": ("email", "emailaddress", "mail"),
    "first_name": ("firstname", "givenname", "first"),
    "last_name": ("lastname", "surname", "familyname", "last"),
    "address_line1": ("addressline1", "address1", "address", "street", "streetaddress"),
    "address_line2": ("addressline2", "address2"),
    "city": ("city", "town", "locality"),
    "region": ("region", "state", "province", "county", "countryarea"),
    "postal_code": ("postalcode", "postcode", "zip", "zipcode"),
    "country": ("country", "countrycode"),
    "language": ("language", "lang", "locale"),
    "time_zone": ("timezone", "tz", "tzname", "zoneinfo"),
}
SUPPRESSION_EMAIL_COLUMNS = ("email", "emailaddress", "address", "recipient", "mail")
SUPPRESSION_REASON_COLUMNS = ("reason", "suppressionreason", "type", "status", "category")


def normalise_header(name: str) -> str:
    return "".join(ch for ch in name.strip().lower() if ch.isalnum())


def contact_check(*, contact: Contact) -> None:
    """Check the contact's postal address for its country and note the problems on it."""
    check = address_check(contact)
    contact.address_valid = check.valid
    contact.address_problems = "; ".join(check.problems)


def contact_save(*, contact: Contact) -> Contact:
    """Save a contact edited by hand, checking its address again."""
    contact_check(contact=contact)
    contact.save()
    return contact


def contacts_invalid_count() -> int:
    return Contact.objects.filter(address_valid=False).count()


def _no_email_column(fieldnames: list[str]) -> FormatError:
    return FormatError(f"This file has no email column (its columns: {', '.join(fieldnames) or 'none'}).")


def contact_columns(header: list[str]) -> dict[str, str]:
    """Which column of a contact list holds what (CONTACT_COLUMNS), the first that fits; raises FormatError when
    none holds the email address."""
    columns: dict[str, str] = {}
    for name in header:
        key = normalise_header(name)
        for target, names in CONTACT_COLUMNS.items():
            if key in names and target not in columns:
                columns[target] = name
    if "email" not in columns:
        raise _no_email_column(header)
    return columns


def contacts_file_check(*, fileobj, limits: Limits | None = None) -> None:
    """Refuse at upload a contact list that cannot be imported, with the reason: an empty file, one that is not
    text (the same check as a send log's), a JSON file, or no email column. Reads the head and the header row."""
    contact_columns(open_csv(fileobj, limits=limits).header)


def contacts_import_run(*, imp, limits: Limits | None = None) -> None:
    """Read a contact list (any encoding, any delimiter) and upsert its contacts by email, checking addresses."""
    with imp.file.open("rb") as raw:
        found = open_csv(raw, encoding=imp.encoding, limits=limits)
        columns = contact_columns(found.header)
        invalid = 0
        named: list[str] = []  # the first few, so the message says which
        batch: dict[str, Contact] = {}
        for line, row in found.dicts():
            imp.rows_read += 1
            if row.__class__ is Rejected:
                imp.reject(line, row.reason)
                continue
            values = {target: (row.get(name) or "").strip() for target, name in columns.items()}
            email = values.pop("email").lower()
            if "@" not in email:
                imp.reject(line, f"no valid email address ({email!r})" if email else "no email address")
                continue
            # Never the first two letters of a name: "Germany" is DE, not GE (Georgia).
            typed = values.get("country", "")
            values["country"] = country_code(typed)
            if "language" in values:
                # An ISO 639 code however the list writes it ("fr-BE", "French"); an unknown one is left blank.
                values["language"] = language_code(values["language"])
            contact = Contact(email=email, **values)
            contact_check(contact=contact)
            if typed and not values["country"]:
                contact.address_valid = False
                contact.address_problems = "; ".join(
                    p for p in (f"country {typed!r} is not one we know", contact.address_problems) if p
                )
            if not contact.address_valid:
                invalid += 1
                if len(named) < 5:
                    named.append(email)
            batch[email] = contact
            if len(batch) >= 2000:
                imp.imported += _upsert_contacts(batch.values(), list(columns))
                batch = {}
                imp.save_progress(bytes_read=raw.tell())
        imp.imported += _upsert_contacts(batch.values(), list(columns))
    which = ", ".join(named) + (f" and {invalid - len(named):,} more" if invalid > len(named) else "")
    note = (
        f"{invalid:,} contact{'s have' if invalid != 1 else ' has'} an address that is missing or not valid "
        f"({which}): kept, and flagged on the Contacts page."
        if invalid
        else ""
    )
    imp.finish(imp.Status.DONE, note)


def _upsert_contacts(contacts: Iterable[Contact], columns: list[str]) -> int:
    contacts = list(contacts)
    fields = [c for c in columns if c != "email"] + ["address_valid", "address_problems", "updated"]
    now = timezone.now()
    for c in contacts:
        c.created = c.updated = now
    Contact.objects.bulk_create(contacts, update_conflicts=True, unique_fields=["email"], update_fields=fields)
    return len(contacts)


def suppressions_import_run(*, imp, limits: Limits | None = None) -> None:
    """Read an ESP's suppression export and add its addresses through the suppression list's writer."""
    default = imp.mapping.get("reason") or Suppression.Reason.UNSUBSCRIBED
    source = f"import: {imp.original_name}"[:200]
    with imp.file.open("rb") as raw:
        found = open_csv(raw, encoding=imp.encoding, limits=limits)
        by_key = {normalise_header(f): f for f in found.header}
        email_col = next((by_key[k] for k in SUPPRESSION_EMAIL_COLUMNS if k in by_key), None)
        reason_col = next((by_key[k] for k in SUPPRESSION_REASON_COLUMNS if k in by_key), None)
        if email_col is None:
            raise _no_email_column(found.header)
        batch = []
        for line, row in found.dicts():
            imp.rows_read += 1
            if row.__class__ is Rejected:
                imp.reject(line, row.reason)
                continue
            email = (row.get(email_col) or "").strip().lower()
            if "@" not in email:
                imp.reject(line, f"no valid email address ({email!r})" if email else "no email address")
                continue
            reason = suppression_reason(row.get(reason_col) or "", default) if reason_col else default
            batch.append(Suppression(email=email, reason=reason, source=source))
            if len(batch) >= 5000:
                imp.imported += suppression_add_many(entries=batch, source=source, by=imp.created_by)
                batch = []
                imp.save_progress(bytes_read=raw.tell())
        imp.imported += suppression_add_many(entries=batch, source=source, by=imp.created_by)
        imp.duplicates = imp.rows_read - imp.rejected - imp.imported
    imp.finish(imp.Status.DONE)


def contacts_languages(*, emails: Iterable[str]) -> dict[str, tuple[str, str]]:
    """{email: (ISO 639-1 code, "contact" | "country")} for the given addresses that have a contact.

    The contact's own language, else their country's most spoken language (Babel's territory data); a
    campaign then writes in the first of those it has words for (apologies.campaigns.locales).
    """
    found: dict[str, tuple[str, str]] = {}
    for email, language, country in Contact.objects.filter(email__in=list(emails)).values_list(
        "email", "language", "country"
    ):
        own = language_code(language or "")
        if own:
            found[email] = (own, "contact")
        elif spoken := country_languages(country):
            found[email] = (spoken[0], "country")
    return found
