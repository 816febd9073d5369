"""The letter pages: cost and gifts, settings, rendering and downloading batches, returns, the preview."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from apologies.campaigns import lifecycle
from apologies.letters import gifts, layout
from apologies.letters import services as letter_batches
from apologies.models import Campaign, GiftPackage, Letter, LetterBatch
from apologies.tests.letters_factories import letter_campaign, pdf_page_count
from incidents.models import Contact

pytestmark = pytest.mark.django_db

SENDER = "Amends Inc.\n500 Market St\nSan Francisco, CA 94105"


@pytest.fixture
def rose() -> GiftPackage:
    return GiftPackage.objects.create(name="Rose box", sku="ROSE-01", unit_cost=Decimal("8.00"), stock=50)


def started(marketer, approver, n: int = 3) -> Campaign:
    campaign = letter_campaign(marketer, approver, people={f"p{i}@example.com": {"messages": 12} for i in range(n)})
    ls = layout.letter_settings(campaign)
    ls.return_address = SENDER
    ls.save()
    return campaign


def test_it_shows_the_cost_of_letters_and_gifts(marketer_client, marketer, rose):
    campaign = letter_campaign(marketer, people={f"p{i}@example.com": {"messages": 12} for i in range(3)}, start=False)
    gifts.gifts_assign(campaign=campaign, packages={2: rose}, user=marketer)
    response = marketer_client.get(reverse("apologies:letters", args=[campaign.id]))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<span class="big" id="letters-cost">28.50</span>' in html  # 3 x 1.50 + 3 x 8.00
    assert "Rose box <code>ROSE-01</code>" in html and "50 of 50 free" in html
    detail = marketer_client.get(campaign.get_absolute_url()).content.decode()
    assert reverse("apologies:letters", args=[campaign.id]) in detail
    assert '<span class="big">28.50</span> estimated cost' in detail


def test_it_assigns_gifts_and_saves_the_letter_settings(marketer_client, marketer, rose):
    campaign = letter_campaign(marketer, people={"a@example.com": {"messages": 12}}, start=False)
    url = reverse("apologies:letters_gifts", args=[campaign.id])
    response = marketer_client.post(url, {"tier_2": rose.id, "tier_3": ""})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.gift_tiers == [2] and campaign.recipients.get().gift

    settings_url = reverse("apologies:letters_settings", args=[campaign.id])
    form = {
        "page_size": "a4",
        "return_address": "Amends GmbH\nFriedrichstraße 10\n10117 Berlin",
        "return_country": "de",
        "cost_per_letter": "0.95",
        "budget": "500",
        "batch_size": "250",
        "duplex": "on",
    }
    assert marketer_client.post(settings_url, form).status_code == 302
    ls = layout.letter_settings(campaign)
    campaign.refresh_from_db()
    assert (ls.page_size, ls.return_country, ls.budget, ls.batch_size) == ("a4", "DE", Decimal("500"), 250)
    assert campaign.cost_per_letter == Decimal("0.95")

    # A return address that does not fit the return window is refused, naming why.
    response = marketer_client.post(settings_url, form | {"return_address": "\n".join(f"Line {i}" for i in range(7))})
    assert response.status_code == 400
    assert "7 lines do not fit the return window" in response.content.decode()


def test_it_answers_403_to_a_viewer_for_every_letter_write(viewer_client, marketer, approver, rose):
    campaign = started(marketer, approver)
    [batch] = letter_batches.batches_create(campaign=campaign, user=approver).batches
    assert viewer_client.get(reverse("apologies:letters", args=[campaign.id])).status_code == 200
    assert viewer_client.get(reverse("apologies:gifts")).status_code == 200
    for name, args in [
        ("letters_settings", [campaign.id]),
        ("letters_gifts", [campaign.id]),
        ("letters_render", [campaign.id]),
        ("letters_returns", [campaign.id]),
        ("batch_mailed", [batch.id]),
        ("batch_retry", [batch.id]),
        ("gifts", []),
        ("gift_edit", [rose.id]),
    ]:
        assert viewer_client.post(reverse(f"apologies:{name}", args=args), {}).status_code == 403, name
    assert viewer_client.post(reverse("apologies:batch_zip", args=[batch.id])).status_code == 403
    for name in ("batch_pdf", "batch_manifest"):
        assert viewer_client.get(reverse(f"apologies:{name}", args=[batch.id])).status_code == 403, name


def test_it_renders_batches_then_serves_the_zip_and_marks_it_downloaded(
    client, marketer, approver, django_capture_on_commit_callbacks
):
    campaign = started(marketer, approver, n=3)
    client.force_login(approver)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("apologies:letters_render", args=[campaign.id]), {"size": 2})
    assert response.status_code == 302
    progress = client.get(reverse("apologies:letters_progress", args=[campaign.id])).json()
    assert progress["finished"] and progress["ready"] == 2
    batch = LetterBatch.objects.get(campaign=campaign, number=1)

    # A GET changes nothing (a link scanner or a prefetch must not mark a batch downloaded).
    assert client.get(reverse("apologies:batch_zip", args=[batch.id])).status_code == 405
    batch.refresh_from_db()
    assert batch.status == "ready"
    response = client.post(reverse("apologies:batch_zip", args=[batch.id]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="campaign-{campaign.id}-batch-001.zip"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    stem = f"campaign-{campaign.id}-batch-001"
    assert sorted(archive.namelist()) == [f"{stem}-manifest.csv", f"{stem}.pdf"]
    pdf = archive.read(f"{stem}.pdf")
    manifest = archive.read(f"{stem}-manifest.csv").decode().splitlines()
    assert len(manifest) == 3 and pdf_page_count(pdf) == 4  # 2 letters, duplex
    batch.refresh_from_db()
    assert batch.status == "downloaded"

    page = client.get(reverse("apologies:letters", args=[campaign.id])).content.decode()
    assert "Downloaded" in page and "0 letters waiting to be printed" in page


def test_it_marks_a_batch_mailed_and_applies_a_returns_file(
    client, marketer, approver, django_capture_on_commit_callbacks
):
    campaign = started(marketer, approver, n=2)
    with django_capture_on_commit_callbacks(execute=True):
        [batch] = letter_batches.batches_create(campaign=campaign, user=approver).batches
    client.force_login(approver)
    today = timezone.localdate()
    response = client.post(reverse("apologies:batch_mailed", args=[batch.id]), {"mailed_on": today.isoformat()})
    assert response.status_code == 302
    batch.refresh_from_db()
    assert (batch.status, batch.mailed_on) == ("mailed", today)

    code = Letter.objects.get(sequence=2).short_code
    upload = SimpleUploadedFile("returns.csv", f"short_code;reason\n{code};Addressee unknown\n".encode())
    response = client.post(reverse("apologies:letters_returns", args=[campaign.id]), {"file": upload}, follow=True)
    assert "1 letter marked returned to sender." in response.content.decode()
    assert Letter.objects.get(sequence=2).return_note == "Addressee unknown"


def test_it_keeps_the_gift_catalogue(marketer_client, marketer, approver):
    form = {"name": "Rose box", "sku": "ROSE-01", "items": "chocolate rose\nduct tape", "unit_cost": "8", "stock": 3}
    assert marketer_client.post(reverse("apologies:gifts"), form).status_code == 302
    package = GiftPackage.objects.get()
    assert package.item_list() == ["chocolate rose", "duct tape"]
    response = marketer_client.post(reverse("apologies:gifts"), form | {"unit_cost": "-1"})
    assert response.status_code == 400  # same SKU, negative cost

    campaign = letter_campaign(marketer, people={f"p{i}@example.com": {"messages": 12} for i in range(2)}, start=False)
    gifts.gifts_assign(campaign=campaign, packages={2: package}, user=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    response = marketer_client.post(reverse("apologies:gift_edit", args=[package.id]), form | {"stock": 1})
    assert response.status_code == 400
    assert "2 are held for approved campaigns" in response.content.decode()
    assert (
        marketer_client.post(reverse("apologies:gift_edit", args=[package.id]), form | {"stock": 10}).status_code == 302
    )
    package.refresh_from_db()
    assert (package.stock, package.reserved) == (10, 2)


def test_it_says_why_the_letter_settings_are_locked_once_sending_starts(marketer_client, marketer, approver):
    def page(campaign) -> str:
        return marketer_client.get(reverse("apologies:letters", args=[campaign.id])).content.decode()

    assert 'id="settings-locked"' not in page(letter_campaign(marketer, people={"a@example.com": {}}, start=False))
    html = page(started(marketer, approver, n=1))
    assert 'id="settings-locked">Sending has started, so what the letters say and cost is locked' in html


def test_it_advises_another_envelope_for_a_complete_address_too_tall_for_the_window(marketer_client, marketer):
    campaign = letter_campaign(
        marketer,
        people={"us@example.com": {}, "gb@example.com": {"country": "GB"}, "moved@example.com": {}},
        start=False,
    )
    moved, gb = Contact.objects.get(email="moved@example.com"), Contact.objects.get(email="gb@example.com")
    Contact.objects.filter(id=moved.id).update(
        postal_code="", address_valid=False, address_problems="postal code missing"
    )
    held = {h.recipient.email: h for h in letter_batches.letters_held(campaign=campaign)}
    assert sorted(held) == ["gb@example.com", "moved@example.com"]
    assert held["gb@example.com"].envelope_fix and not held["moved@example.com"].envelope_fix
    assert held["gb@example.com"].reason.startswith("the address has 5 lines")
    assert (
        "it fits A4 in a DL window envelope (DIN 5008 form B) or A4 in a C5 window envelope (folded once) or A4 in "
        "a C6 window envelope (folded twice)" in held["gb@example.com"].reason
    )

    page = marketer_client.get(reverse("apologies:letters", args=[campaign.id])).content.decode()
    assert reverse("incidents:contact_edit", args=[moved.id]) in page  # an incomplete address: fix it
    assert reverse("incidents:contact_edit", args=[gb.id]) not in page  # a complete one: another envelope
    assert 'href="#settings-h">Choose another envelope</a>' in page
    # The cost counts the held letters too, and says so.
    assert '<span class="big">3</span> letters, 2 of them held' in page
    assert 'id="held-in-cost"' in page

    layout.letter_settings_save(campaign=campaign, values={"page_size": "a4", "envelope": "dl"}, user=marketer)
    assert [h.recipient.email for h in letter_batches.letters_held(campaign=campaign)] == ["moved@example.com"]


def test_it_shows_the_mail_houses_link_only_to_who_may_open_it(client, marketer, viewer):
    campaign = letter_campaign(marketer, people={"a@example.com": {}}, start=False)
    letters, mail_houses = reverse("apologies:letters", args=[campaign.id]), reverse("apologies:print_profiles")
    client.force_login(viewer)
    assert mail_houses not in client.get(letters).content.decode()
    assert client.get(mail_houses).status_code == 403
    client.force_login(marketer)
    assert mail_houses in client.get(letters).content.decode()
    assert client.get(mail_houses).status_code == 200
