"""Tests of contacts: imports, address checks and the contact pages."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from incidents.models import Contact, Import
from incidents.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

CSV = (
    "Email,First Name,Last Name,Address Line1,City,Region,Postal Code,Country,Language\n"
    "  Zoe@Example.com ,Zoë,O'Neill,1600 Amphitheatre Pkwy,Mountain View,CA,94043,us,en\n"
    "lukasz@example.com,Łukasz,<script>alert(1)</script>,Invalidenstraße 1,Berlin,,10115,DE,de\n"
    "soren@example.com,Søren,Nørgaard,Strøget 1,København K,,99,DK,da\n"
    "nobody,No,Email,,,,,,\n"
)


def test_it_imports_contacts_and_flags_invalid_addresses(marketer_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(
            reverse("incidents:contact_upload"), {"file": SimpleUploadedFile("people.csv", CSV.encode())}
        )
    imp = Import.objects.get()
    assert response["Location"] == imp.get_absolute_url()
    assert (imp.status, imp.imported, imp.rejected) == ("done", 3, 1)
    assert imp.errors == [{"ref": 5, "reason": "no valid email address ('nobody')"}]
    zoe = Contact.objects.get(email="zoe@example.com")
    assert (zoe.first_name, zoe.last_name, zoe.country, zoe.address_valid) == ("Zoë", "O'Neill", "US", True)
    assert Contact.objects.get(email="lukasz@example.com").address_valid is True
    soren = Contact.objects.get(email="soren@example.com")
    assert soren.address_valid is False
    assert "postal code" in soren.address_problems
    assert "1 contact has an address that is missing or not valid (soren@example.com)" in imp.message


def test_it_rejects_a_row_with_a_nul_character_naming_its_column_and_keeps_the_others(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("email,first name,city\na@example.com,Ann,Oslo\nb@example.com,B\x00b,Oslo\nc@example.com,Cy,Rome\n")

    call_command("import_contacts", str(path))

    imp = Import.objects.get()
    assert (imp.status, imp.imported, imp.rejected) == ("done", 2, 1)
    assert imp.errors == [{"ref": 3, "reason": "a NUL character (\\u0000) in column 2: no database text can hold it"}]
    assert sorted(Contact.objects.values_list("email", flat=True)) == ["a@example.com", "c@example.com"]


def test_it_upserts_by_email(tmp_path):
    ContactFactory(email="zoe@example.com", first_name="Old", language="fr")
    path = tmp_path / "c.csv"
    path.write_text(CSV, encoding="utf-8")
    call_command("import_contacts", str(path))
    zoe = Contact.objects.get(email="zoe@example.com")
    assert zoe.first_name == "Zoë"
    assert zoe.language == "en"
    assert Contact.objects.count() == 3


def test_it_shows_names_with_markup_as_text(marketer_client):
    ContactFactory(first_name="<b>Bold</b>", last_name="<script>alert(1)</script>")
    html = marketer_client.get(reverse("incidents:contacts")).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html


def test_it_checks_the_address_again_when_edited(marketer_client):
    contact = ContactFactory(postal_code="1", address_valid=False)
    response = marketer_client.post(
        reverse("incidents:contact_edit", args=[contact.id]),
        {
            "email": contact.email,
            "first_name": "Jane",
            "address_line1": "1600 Amphitheatre Pkwy",
            "city": "Mountain View",
            "region": "CA",
            "postal_code": "94043",
            "country": "us",
        },
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.address_valid is True
    assert contact.country == "US"


def test_it_searches_contacts_and_filters_invalid_addresses(marketer_client):
    ContactFactory(email="a@example.com")
    ContactFactory(email="b@example.com", address_valid=False)
    page = marketer_client.get(reverse("incidents:contacts"), {"invalid": "1"}).context["page"]
    assert [c.email for c in page] == ["b@example.com"]
    page = marketer_client.get(reverse("incidents:contacts"), {"q": "a@ex"}).context["page"]
    assert [c.email for c in page] == ["a@example.com"]


def test_it_imports_a_windows_1252_contact_list_with_its_accents(marketer_client, django_capture_on_commit_callbacks):
    data = "Email;First Name;Last Name;City;Country\nlea@example.fr;Léa;Girard;Besançon;FR\n".encode("cp1252")
    with django_capture_on_commit_callbacks(execute=True):
        marketer_client.post(reverse("incidents:contact_upload"), {"file": SimpleUploadedFile("excel.csv", data)})
    imp = Import.objects.get()
    assert imp.status == "done", imp.message
    lea = Contact.objects.get(email="lea@example.fr")
    assert (lea.first_name, lea.city) == ("Léa", "Besançon")


def test_it_reads_the_language_column_as_an_iso_code(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        "email,country,locale\n"
        "a@example.com,BE,fr-BE\n"
        "b@example.com,DE,German\n"
        "c@example.com,ES,ES\n"
        "d@example.com,FR,klingonish\n"
        "e@example.com,FR,\n",
        encoding="utf-8",
    )
    call_command("import_contacts", str(path))
    got = dict(Contact.objects.values_list("email", "language"))
    # An unknown language is left blank: the country's then decides (apologies.campaigns.locales).
    assert got == {
        "a@example.com": "fr",
        "b@example.com": "de",
        "c@example.com": "es",
        "d@example.com": "",
        "e@example.com": "",
    }
