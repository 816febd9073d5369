"""Tests of the suppression list: its pages, its imports and its only writer."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from incidents.contacts import suppressions
from incidents.models import Import, Suppression

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
