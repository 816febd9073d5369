"""Names print with real glyphs in the window and the greeting, in their own direction, or the letter is held."""

from __future__ import annotations

import subprocess
import tempfile

import pytest

from apologies.campaigns.models import CampaignError
from apologies.letters import glyphs, layout
from apologies.letters import services as letter_batches
from apologies.models import Letter
from apologies.tests.letters_factories import letter_campaign, pdf_text

pytestmark = pytest.mark.django_db

SENDER = "Amends Inc.\n500 Market St\nSan Francisco, CA 94105"
# ../shared/cases/realworld/13-letter-glyphs.txt
NAMES = {
    "hana@example.com": ("Hana 🌸", "Kobayashi"),
    "kichi@example.com": ("花子", "𠮷田"),
    "layla@example.com": ("ليلى", "حداد"),
    "noa@example.com": ("נועה", "כהן"),
}
NO_FONT = "\U0010fffd"  # a private-use character: no installed font has it


def pdf_fonts(pdf: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        return subprocess.run(["pdffonts", f.name], capture_output=True, text=True, check=True).stdout


def campaign_for(marketer, approver, names: dict, **kwargs):
    people = {email: {"first_name": first, "last_name": last} for email, (first, last) in names.items()}
    campaign = letter_campaign(marketer, approver, people=people, **kwargs)
    ls = layout.letter_settings(campaign)
    ls.return_address = SENDER
    ls.save()
    return campaign


@pytest.mark.parametrize("email", list(NAMES))
def test_it_prints_every_character_of_a_name_with_a_real_glyph(marketer, approver, email, caplog):
    first, last = NAMES[email]
    campaign = campaign_for(marketer, approver, {email: NAMES[email]}, start=False)
    recipient = campaign.recipients.get()
    with caplog.at_level("WARNING", logger="weasyprint"):
        pdf = layout.letter_preview(recipient=recipient)

    assert not [r for r in caplog.records if ".notdef" in r.getMessage()]
    text = " ".join(pdf_text(pdf).split())
    # The window and the greeting (right-to-left names come out of pdftotext in logical or visual order).
    # The window and the greeting; pdftotext gives Arabic's shaped ligatures back in another order, so its
    # family name (no ligature) stands for both.
    for part in (first, last) if "layla" not in email else (last,):
        assert text.count(part) >= (2 if part == first else 1)
    assert glyphs.missing_chars(first + last) == ""
    fonts = pdf_fonts(pdf)
    expected = {"hana": "Emoji", "kichi": "CJK", "layla": "Arabic", "noa": "Hebrew"}[email.split("@")[0]]
    assert expected in fonts


def test_it_gives_right_to_left_names_their_direction(marketer, approver):
    campaign = campaign_for(marketer, approver, {"layla@example.com": NAMES["layla@example.com"]}, start=False)
    recipient = campaign.recipients.get()
    writer = layout.LetterWriter(campaign)
    lines = layout.window_lines(recipient.contact, sender_country="US")
    html = writer.html(layout.LetterInput(recipient, 1, lines))
    assert '<div dir="rtl">ليلى حداد</div>' in html
    assert '<div dir="ltr">1600 Amphitheatre Pkwy</div>' in html
    assert 'Dear <bdi dir="rtl">ليلى</bdi>,' in html


def test_it_holds_a_letter_whose_name_no_font_can_print(marketer, approver, django_capture_on_commit_callbacks):
    names = {"ok@example.com": ("Zoë", "Doe"), "maya@example.com": (f"K{NO_FONT}k", "Doe")}
    campaign = campaign_for(marketer, approver, names)

    held = letter_batches.letters_held(campaign=campaign)
    assert [h.recipient.email for h in held] == ["maya@example.com"]
    assert held[0].reason.startswith("no installed font prints \U0010fffd (U+10FFFD unnamed): install one")
    with django_capture_on_commit_callbacks(execute=True):
        run = letter_batches.batches_create(campaign=campaign, user=approver)
    assert [h.recipient.email for h in run.held] == ["maya@example.com"]
    assert list(Letter.objects.values_list("recipient__email", flat=True)) == ["ok@example.com"]
    with pytest.raises(CampaignError, match="no installed font prints \U0010fffd"):
        layout.letter_preview(recipient=campaign.recipients.get(email="maya@example.com"))


def test_it_takes_a_letter_out_after_layout_when_a_glyph_would_print_as_a_box(
    marketer, approver, monkeypatch, django_capture_on_commit_callbacks
):
    """The check after layout reads the glyphs Pango chose: it holds what the check before layout missed."""
    names = {"ok@example.com": ("Zoë", "Doe"), "maya@example.com": (f"K{NO_FONT}k", "Doe")}
    campaign = campaign_for(marketer, approver, names)
    monkeypatch.setattr(glyphs, "missing_chars", lambda text: "")  # the check before layout lets it through

    with django_capture_on_commit_callbacks(execute=True):
        run = letter_batches.batches_create(campaign=campaign, user=approver)
    [batch] = run.batches
    batch.refresh_from_db()
    assert (batch.status, batch.letters_count) == ("ready", 1)
    assert list(batch.letters.values_list("recipient__email", flat=True)) == ["ok@example.com"]
    pdf = batch.pdf.open("rb").read()
    assert "Zoë" in pdf_text(pdf) and "Doe" in pdf_text(pdf) and "K" + NO_FONT not in pdf_text(pdf)
    assert batch.pages == 2  # one letter and its blank back
    # Held with the reason, and not batched again until the contact changes.
    held = letter_batches.letters_held(campaign=campaign)
    assert [h.recipient.email for h in held] == ["maya@example.com"]
    assert held[0].reason == "after layout: no font printed \U0010fffd (U+10FFFD unnamed)"
    assert letter_batches.batches_create(campaign=campaign, user=approver).batches == []
