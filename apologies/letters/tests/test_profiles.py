"""Print profiles per mail house: PDF/X-4 or plain PDF, CMYK or RGB black, and a mark on each sheet."""

from __future__ import annotations

import re
import zlib

import pytest
from django.urls import reverse

from apologies.letters import paper
from apologies.letters import services as letter_batches
from apologies.letters.models import PrintProfile
from apologies.tests.letters_factories import letter_campaign, pdf_words

pytestmark = pytest.mark.django_db

SENDER = "Amends Inc.\n500 Market St\nSan Francisco, CA 94105"


def streams(pdf: bytes) -> bytes:
    """Every stream of the PDF, inflated where it is compressed."""
    out = []
    for raw in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            out.append(zlib.decompress(raw))
        except zlib.error:
            out.append(raw)
    return b"\n".join(out)


def rendered(marketer, approver, callbacks, *, profile: PrintProfile | None, people: dict, body: str | None = None):
    campaign = letter_campaign(
        marketer,
        approver,
        people=people,
        letter_settings={"return_address": SENDER, "print_profile": profile},
        letter_body=body or None,
    )
    with callbacks(execute=True):
        [batch] = letter_batches.batches_create(campaign=campaign, user=approver).batches
    batch.refresh_from_db()
    assert batch.status == "ready", batch.error
    return batch, batch.pdf.open("rb").read()


def test_it_writes_pdf_x4_with_cmyk_black_for_a_mail_house_that_asks(
    marketer, approver, django_capture_on_commit_callbacks
):
    house = PrintProfile.objects.create(name="PostHouse", pdf_variant="pdf/x-4", black="cmyk")
    batch, pdf = rendered(marketer, approver, django_capture_on_commit_callbacks, profile=house, people={"a@x.com": {}})
    assert batch.print_profile == {"name": "PostHouse", "pdf_variant": "pdf/x-4", "black": "cmyk", "marks": True}
    assert pdf.startswith(b"%PDF-1.6") and b"PDF/X-4" in pdf
    content = streams(pdf)
    assert b"/DeviceCMYK cs\n0 0 0 1 scn" in content  # text in CMYK black
    assert b"/DeviceRGB cs\n0 0 0 scn" not in content and b"0 0 0 rg" not in content  # no RGB black anywhere

    _, plain = rendered(marketer, approver, django_capture_on_commit_callbacks, profile=None, people={"b@x.com": {}})
    assert b"PDF/X-4" not in plain and b"DeviceCMYK" not in streams(plain)


def test_it_marks_each_sheet_outside_the_windows(marketer, approver, django_capture_on_commit_callbacks):
    long = "<p>Dear {{ first_name }},</p>" + "<p>We are sorry; this is what went wrong, and the fix.</p>" * 70
    people = {"a@x.com": {"first_name": "Ann"}, "b@x.com": {"first_name": "Ben", "messages": 60}}
    campaign_people = people
    batch, pdf = rendered(
        marketer, approver, django_capture_on_commit_callbacks, profile=None, people=campaign_people, body=long
    )
    words = pdf_words(pdf)
    marks = {}
    for w in words:
        if re.fullmatch(r"\d{6}", w.text):
            [part] = [x.text for x in words if x.page == w.page and x.x_min > w.x_max and abs(x.y_min - w.y_min) < 1]
            marks[w.page] = f"{w.text} {part}"
            window = paper.ENVELOPES["us10"].window
            assert w.y_min > paper.ENVELOPES["us10"].body_top and not window.contains(
                paper.Box(w.x_min, w.y_min, w.x_max, w.y_max)
            )
            assert w.y_max < 792 - 72 / 16  # 1/16 in from the edge
    # Each printed page carries its letter's sequence and "sheet k of n" (duplex: two pages a sheet); blank backs
    # carry nothing. The manifest's page ranges count the blank backs.
    rows = [r.split(",") for r in letter_batches.batch_manifest(batch=batch).splitlines()[1:]]
    printed = {w.page for w in words}
    expected = {}
    for row in rows:
        sequence, first, last, pages, sheets = (int(v) for v in row[:5])
        assert sheets == 2 and pages == last - first + 1 and pages % 2 == 0
        for page in range(first, last + 1):
            if page in printed:
                expected[page] = f"{sequence:06d} {(page - first) // 2 + 1}/{sheets}"
    assert [int(r[1]) for r in rows] == [1, 5] and batch.pages == 8
    assert marks == expected and len(marks) >= 6


def test_it_leaves_the_marks_off_when_the_mail_house_prints_its_own(
    marketer, approver, django_capture_on_commit_callbacks
):
    house = PrintProfile.objects.create(name="Lob", sequence_marks=False)
    _, pdf = rendered(marketer, approver, django_capture_on_commit_callbacks, profile=house, people={"a@x.com": {}})
    assert not [w for w in pdf_words(pdf) if re.fullmatch(r"\d{6}", w.text)]


def test_it_keeps_mail_houses_on_their_own_page(approver, client):
    client.force_login(approver)
    url = reverse("apologies:print_profiles")
    form = {"name": "PostHouse", "pdf_variant": "pdf/x-4", "black": "cmyk", "sequence_marks": "on"}
    response = client.post(url, form)
    assert response.status_code == 302
    house = PrintProfile.objects.get()
    assert (house.pdf_variant, house.black, house.sequence_marks) == ("pdf/x-4", "cmyk", True)
    assert "PostHouse" in client.get(url).content.decode()
