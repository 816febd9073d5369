"""Tests of the suppression list: its pages, its imports and its only writer."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from incidents.contacts import suppressions
from incidents.models import Import, Suppression, SuppressionChange

pytestmark = pytest.mark.django_db


def test_it_adds_an_address_by_hand(marketer_client):
    response = marketer_client.post(
        reverse("incidents:suppression_add"), {"email": " Never@Example.com ", "reason": "never_again", "source": ""}
    )
    assert response.status_code == 302
    entry = Suppression.objects.get()
    assert (entry.email, entry.reason) == ("never@example.com", "never_again")
    assert "maya" in entry.source
    assert suppressions.is_suppressed("NEVER@example.com")


@pytest.mark.parametrize(
    "csv_text, expected",
    [
        # Postmark suppressions export
        (
            "EmailAddress,SuppressionReason,Origin,CreatedAt\n"
            "a@example.com,HardBounce,Recipient,2026-11-20T10:00:00Z\n"
            "b@example.com,SpamComplaint,Recipient,2026-11-20T10:00:00Z\n"
            "c@example.com,ManualSuppression,Customer,2026-11-20T10:00:00Z\n",
            {("a@example.com", "hard_bounce"), ("b@example.com", "complained"), ("c@example.com", "manual")},
        ),
        # SendGrid global unsubscribes export: no reason column, the form's default applies
        ("email,created\nd@example.com,1763647200\nD@example.com ,1763647200\n", {("d@example.com", "unsubscribed")}),
        # Amazon SES account suppression list
        (
            "EmailAddress,Reason,LastUpdateTime\ne@example.com,COMPLAINT,2026-11-20\nf@example.com,BOUNCE,2026-11-20\n",
            {("e@example.com", "complained"), ("f@example.com", "hard_bounce")},
        ),
        # Mailgun bounces export
        (
            "address,code,error,created_at\ng@example.com,550,No such user,Thu 20 Nov 2026\n",
            {("g@example.com", "unsubscribed")},
        ),
    ],
)
def test_it_imports_an_esp_suppression_export(marketer_client, django_capture_on_commit_callbacks, csv_text, expected):
    with django_capture_on_commit_callbacks(execute=True):
        marketer_client.post(
            reverse("incidents:suppression_upload"),
            {"file": SimpleUploadedFile("suppressions.csv", csv_text.encode()), "reason": "unsubscribed"},
        )
    imp = Import.objects.get()
    assert imp.status == "done", imp.message
    assert set(Suppression.objects.values_list("email", "reason")) == expected


def test_it_reimports_without_doubles(marketer_client, django_capture_on_commit_callbacks):
    data = b"email\nx@example.com\ny@example.com\n"
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            marketer_client.post(
                reverse("incidents:suppression_upload"),
                {"file": SimpleUploadedFile("s.csv", data), "reason": "hard_bounce"},
            )
    assert Suppression.objects.count() == 2
    last = Import.objects.order_by("-id").first()
    assert (last.imported, last.duplicates) == (0, 2)


def test_it_searches_the_list(marketer_client):
    Suppression.objects.create(email="one@example.com", reason="complained")
    Suppression.objects.create(email="two@example.com", reason="unsubscribed")
    page = marketer_client.get(reverse("incidents:suppressions"), {"q": "two"}).context["page"]
    assert [s.email for s in page] == ["two@example.com"]
    page = marketer_client.get(reverse("incidents:suppressions"), {"reason": "complained"}).context["page"]
    assert [s.email for s in page] == ["one@example.com"]


def test_it_imports_a_utf16_suppression_export_and_records_each_change(
    marketer_client, django_capture_on_commit_callbacks
):
    data = "Email\tReason\r\nzoë@example.com\tHardBounce\r\nann@example.com\tunsubscribe\r\n".encode("utf-16")
    with django_capture_on_commit_callbacks(execute=True):
        marketer_client.post(
            reverse("incidents:suppression_upload"),
            {"file": SimpleUploadedFile("export.txt", data), "reason": "unsubscribed"},
        )
    imp = Import.objects.get()
    assert (imp.status, imp.imported) == ("done", 2), imp.message
    assert set(Suppression.objects.values_list("email", "reason")) == {
        ("zoë@example.com", "hard_bounce"),
        ("ann@example.com", "unsubscribed"),
    }
    change = SuppressionChange.objects.get(email="zoë@example.com")
    assert (change.action, change.source, change.by.username) == ("added", "import: export.txt", "maya")


def test_it_lifts_a_suppression_and_records_who_and_why(marketer_client):
    suppressions.suppression_add(email="Ann@Example.com", reason="unsubscribed", source="test")
    assert suppressions.suppressed_among(["ANN@example.com", "bob@example.com"]) == {"ann@example.com"}

    lifted = suppressions.suppression_lift(email="ann@example.com", reason="unsubscribed", source="resubscribed")

    assert lifted == 1
    assert not suppressions.is_suppressed("ann@example.com")
    assert list(SuppressionChange.objects.order_by("id").values_list("action", "source")) == [
        ("added", "test"),
        ("lifted", "resubscribed"),
    ]
