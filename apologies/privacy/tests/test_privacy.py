"""Export and erasure of one person: everything held comes out; after erasure no trace is left but a hash."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client

from apologies.models import Consent, LetterPreview, Recipient
from apologies.privacy.models import ErasedAddress, Erasure
from apologies.privacy.services import (
    email_hash,
    erased_among,
    is_erased,
    person_erase,
    person_export,
)
from incidents.auditlog.models import AuditEntry
from incidents.models import AffectedPerson, SendEvent

from .conftest import SAM, ZOE

pytestmark = pytest.mark.django_db


def database_mentions(needle: str) -> list[str]:
    """Every table.column whose text holds `needle`, found by SQL over the whole schema, not by the models."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                name = connection.ops.quote_name(column.name)
                sql = (
                    f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)} WHERE LOWER(CAST({name} AS TEXT)) LIKE %s"
                )
                cursor.execute(sql, [f"%{needle.lower()}%"])
                if cursor.fetchone()[0]:
                    found.append(f"{table}.{column.name}")
    return found


def media_mentions(needle: str) -> list[str]:
    found = []
    for path in Path(settings.MEDIA_ROOT).rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        texts = [data]
        if data[:2] == b"\x1f\x8b":
            texts.append(gzip.decompress(data))
        if any(needle.lower().encode() in t.lower() for t in texts):
            found.append(str(path))
    return found


def test_it_exports_everything_held_about_a_person(zoe_everywhere, marketer):
    data = person_export(email=" Zoe.Erase@EXAMPLE.com ", user=marketer)
    for kind in [
        "contact",
        "suppressions",
        "send_events",
        "ledger_rows",
        "recipients",
        "deliveries",
        "tracking_events",
        "letters",
        "replies",
        "consents",
        "outbox_copies",
    ]:
        assert data[kind], kind
    assert data["ledger_rows"][0]["messages"] == 6
    assert SAM not in json.dumps(data)
    entry = AuditEntry.objects.get(action="privacy.export")
    assert entry.user == marketer and ZOE not in entry.target


def test_it_exports_from_the_command_line(zoe_everywhere):
    out = io.StringIO()
    call_command("export_person", ZOE, stdout=out)
    assert json.loads(out.getvalue())["contact"][0]["email"] == ZOE


def test_it_leaves_no_trace_after_erase_person(zoe_everywhere):
    assert database_mentions(ZOE)
    assert media_mentions(ZOE)
    sam_ledger = AffectedPerson.objects.get(email=SAM).messages
    figures = sorted(AffectedPerson.objects.values_list("messages", flat=True))

    out = io.StringIO()
    call_command("erase_person", "Zoe.Erase@Example.com", "--yes", "--reason", "ticket 42", stdout=out)

    assert database_mentions(ZOE) == []
    assert database_mentions("zoe.erase") == []
    assert media_mentions(ZOE) == []
    assert is_erased(ZOE) and is_erased(" ZOE.ERASE@example.com")
    assert ErasedAddress.objects.get().email_hash == email_hash(ZOE)
    erasure = Erasure.objects.get()
    assert erasure.reason == "ticket 42" and erasure.counts["contact"] == 1 and erasure.counts["import_files"] >= 2
    assert erasure.counts["letter_previews"] == 2 and not LetterPreview.objects.exists()  # the preview and its page
    assert "Erased" in out.getvalue()
    # The ledger's figures stay; other people are untouched.
    assert sorted(AffectedPerson.objects.values_list("messages", flat=True)) == figures
    assert AffectedPerson.objects.get(email=SAM).messages == sam_ledger
    assert SendEvent.objects.filter(recipient=SAM).count() == 4
    assert Consent.objects.get().choice == "never_again"
    placeholder = Recipient.objects.exclude(email=SAM).get().email
    assert erased_among([placeholder, SAM, ZOE.upper()]) == {placeholder, ZOE.upper()}


def test_it_is_idempotent(zoe_everywhere):
    person_erase(email=ZOE)
    person_erase(email=ZOE)
    assert ErasedAddress.objects.count() == 1
    assert database_mentions(ZOE) == []


def test_it_asks_before_erasing_on_the_command_line(zoe_everywhere, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    with pytest.raises(Exception, match="Nothing was erased"):
        call_command("erase_person", ZOE)
    assert not ErasedAddress.objects.exists()


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.org", "pw"))
    return client


def test_it_gives_admins_a_page_to_find_export_and_erase(zoe_everywhere, admin_client):
    page = admin_client.post("/privacy/", {"email": ZOE})
    assert page.status_code == 200
    assert b"Download everything as JSON" in page.content and b"Erase this person" in page.content
    download = admin_client.post("/privacy/export/", {"email": ZOE})
    assert download["Content-Disposition"].startswith("attachment")
    assert json.loads(download.content)["email"] == ZOE
    refused = admin_client.post("/privacy/erase/", {"email": ZOE, "confirm": "someone@else.com"})
    assert refused.status_code == 400 and not ErasedAddress.objects.exists()
    done = admin_client.post("/privacy/erase/", {"email": ZOE, "confirm": ZOE.upper(), "reason": "DSR-7"})
    assert done.status_code == 302
    assert is_erased(ZOE) and database_mentions(ZOE) == []
    assert Erasure.objects.get().by_username == "root"
    assert AuditEntry.objects.filter(action="privacy.erase", username="root").exists()


def test_it_keeps_the_page_from_everyone_but_admins(marketer_client):
    assert marketer_client.get("/privacy/").status_code == 403
    assert marketer_client.post("/privacy/export/", {"email": ZOE}).status_code == 403
    assert marketer_client.post("/privacy/erase/", {"email": ZOE, "confirm": ZOE}).status_code == 403
    assert not ErasedAddress.objects.exists()


def test_it_never_changes_anything_on_a_get(admin_client):
    assert admin_client.get("/privacy/erase/").status_code == 405
    assert admin_client.get("/privacy/export/").status_code == 405


def test_it_says_on_the_field_when_the_address_looked_up_is_not_one(admin_client):
    page = admin_client.post("/privacy/", {"email": "not-an-email"})
    html = page.content.decode()
    assert page.status_code == 400
    assert 'aria-describedby="id_email_error"' in html
    assert (
        '<p class="error" id="id_email_error" role="alert">“not-an-email” is not an email address: type the whole '
        "address, like name@example.com.</p>" in html
    )
    assert "Download everything as JSON" not in html
    assert admin_client.post("/privacy/export/", {"email": "not-an-email"}).status_code == 400


def test_it_names_what_it_holds_in_words(zoe_everywhere, admin_client):
    html = admin_client.post("/privacy/", {"email": ZOE}).content.decode()
    for label in ("Send events", "Ledger rows", "Outbox copies", "Tracking events"):
        assert f"<tr><td>{label}</td>" in html
    assert "Send_events" not in html and "Ledger_rows" not in html and "Outbox_copies" not in html
    admin_client.post("/privacy/erase/", {"email": ZOE, "confirm": ZOE, "reason": "DSR-8"})
    erasures = admin_client.get("/privacy/").content.decode().split("Recent erasures", 1)[1]
    assert "Send events: " in erasures and "Outbox copies: " in erasures and "send_events" not in erasures
