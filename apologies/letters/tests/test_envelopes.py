"""Every envelope, proven from the PDF's text boxes: each address line in the clear zone at both ends of the slide."""

from __future__ import annotations

import pytest

from apologies.letters import paper
from apologies.letters import services as letter_batches
from apologies.models import Letter
from apologies.tests.letters_factories import letter_campaign, pdf_words

pytestmark = pytest.mark.django_db

US_SENDER = "Amends Inc.\n500 Market St\nSan Francisco, CA 94105"
DE_SENDER = "Amends GmbH\nFriedrichstraße 10\n10117 Berlin"

LONG_NAME = {"first_name": "Maximiliana Alexandra", "last_name": "Featherstonehaugh-Whitley"}
# 3 to 6 lines, long names and long streets, at home and abroad.
SAMPLES = {
    "three@example.com": {"first_name": "Zoë", "last_name": "Łukasz"},
    "four@example.com": {"first_name": "Chloé", "address_line2": "Suite 1200, Building 40"},
    "long-name@example.com": {**LONG_NAME, "address_line2": "Apartment 4B"},
    "long-street@example.com": {
        "first_name": "Jo",
        "address_line1": "12345 North Martin Luther King Jr Memorial Blvd",
        "city": "Mountain View",
    },
    "de@example.com": {"country": "DE", "first_name": "Jürgen", "last_name": "Müller-Lüdenscheidt"},
    "gb-six@example.com": {"country": "GB", "first_name": "Søren", "address_line2": "Flat 2, Whitehall Court"},
    "too-long@example.com": {"first_name": "Jo", "address_line1": "1 " + "Very-Long-Street-Name-" * 4 + "Road"},
    # Taller glyphs from the fallback fonts (../shared/cases/realworld/13-letter-glyphs.txt).
    "cjk@example.com": {"first_name": "花子", "last_name": "𠮷田"},
    "emoji@example.com": {"first_name": "Hana 🌸", "last_name": "Kobayashi"},
}


def render(marketer, approver, callbacks, *, page_size: str, envelope: str, sender: str, country: str):
    values = {"page_size": page_size, "envelope": envelope, "return_address": sender, "return_country": country}
    campaign = letter_campaign(marketer, approver, people=SAMPLES, letter_settings=values)
    with callbacks(execute=True):
        run = letter_batches.batches_create(campaign=campaign, user=approver)
    [batch] = run.batches
    batch.refresh_from_db()
    assert batch.status == "ready", batch.error
    return batch, run.held


def slid(word, dy: float) -> paper.Box:
    return paper.Box(word.x_min, word.y_min + dy, word.x_max, word.y_max + dy)


@pytest.mark.parametrize(
    "page_size,envelope,sender,country,printed",
    [
        ("letter", "us10", US_SENDER, "US", {"three", "four", "long-name", "long-street", "de", "cjk", "emoji"}),
        ("a4", "dl", DE_SENDER, "DE", {"three", "four", "long-name", "long-street", "de", "gb-six", "cjk", "emoji"}),
        ("a4", "c5", DE_SENDER, "DE", {"three", "four", "de", "gb-six", "cjk", "emoji"}),
        ("a4", "c6", DE_SENDER, "DE", {"three", "four", "de", "gb-six", "cjk", "emoji"}),
    ],
)
def test_it_keeps_every_address_line_inside_the_window_at_both_ends_of_the_slide(
    marketer, approver, django_capture_on_commit_callbacks, page_size, envelope, sender, country, printed
):
    batch, held = render(
        marketer,
        approver,
        django_capture_on_commit_callbacks,
        page_size=page_size,
        envelope=envelope,
        sender=sender,
        country=country,
    )
    env = paper.ENVELOPES[envelope]
    half = env.slack / 2
    assert env.slack > 0  # the mail house's insert slack is in the check
    letters = {letter.recipient.email.split("@")[0]: letter for letter in Letter.objects.filter(batch=batch)}
    assert set(letters) == printed
    # Held with the reason, never printed into the window's edge.
    assert {h.recipient.email.split("@")[0] for h in held} == set(SAMPLES_KEYS) - printed
    assert all("window" in h.reason for h in held)

    words = pdf_words(batch.pdf.open("rb").read())
    window = env.window
    for key, letter in letters.items():
        on_page = [w for w in words if w.page == letter.first_page]
        lines = letter.address_lines()
        assert 3 <= len(lines) <= 6
        address = [
            w for w in on_page if w.y_min < env.body_top and w.x_min < window.right and w.y_min >= window.top - 8
        ]
        if env.return_window is None:  # the A4 sender line sits in the window above the address
            # 6.5 pt; a colour emoji's box reads as a sliver at its baseline (pdftotext), so it is kept out by > 1
            sender_line = [w for w in address if 1 < w.y_max - w.y_min < 10]
            address = [w for w in address if w not in sender_line]
            assert " ".join(w.text for w in sender_line) == " · ".join(sender.split("\n"))
            for dy in (-half, half):
                assert all(env.clear.contains(slid(w, dy)) for w in sender_line), key
        assert " ".join(w.text for w in address) == " ".join(" ".join(lines).split()), key
        for dy in (-half, half):
            outside = [w for w in address if not env.clear.contains(slid(w, dy))]
            assert not outside, (key, dy, outside)
        # Aligned with the text column where the window allows; capitals at least 2 mm high (8 pt and up).
        assert min(w.x_min for w in address) == pytest.approx(max(env.zone.left, env.text_left), abs=0.6)
        assert min(w.y_max - w.y_min for w in address if w.y_max - w.y_min > 1) >= 8 * paper.GLYPH_EM - 0.1
        if env.return_window is not None:
            back = [w for w in on_page if env.return_window.contains(paper.Box(w.x_min, w.y_min, w.x_max, w.y_max))]
            assert " ".join(w.text for w in back) == " ".join(sender.split())
            ret_clear = env.return_window.inset(x=paper.CLEARANCE, y=paper.CLEARANCE)
            for dy in (-half, half):
                assert all(ret_clear.contains(slid(w, dy)) for w in back), key
        # Nothing else (date, logo text, body) inside the window.
        intruders = [
            w
            for w in on_page
            if w not in address
            and w.x_min < window.right
            and w.x_max > window.left
            and w.y_max > window.top
            and w.y_min < window.bottom
            and not (env.return_window is None and 1 < w.y_max - w.y_min < 10)
        ]
        assert not intruders, (key, intruders)


SAMPLES_KEYS = [email.split("@")[0] for email in SAMPLES]


def test_it_subtracts_the_mail_houses_slack_from_the_window(settings):
    lines = ["Zoë Doe", "1 Main St", "Suite 5", "SPRINGFIELD, IL 62701"]
    us10 = paper.ENVELOPES["us10"]
    settings.AMENDS_LETTERS_INSERT_SLACK_IN = {"us10": 0.0}
    assert paper.address_fit(lines, us10).size == 10.0
    # The reference's loose insert (0.458 in): no 3-line block keeps its clearance, and the reason says so.
    settings.AMENDS_LETTERS_INSERT_SLACK_IN = {"us10": 0.458}
    fit = paper.address_fit(lines[:1] + lines[-2:], us10)
    assert fit.size is None and "when the insert slides 0.458 in" in fit.problem
    settings.AMENDS_LETTERS_INSERT_SLACK_IN = {"us10": 0.2}
    assert paper.address_fit([f"Line {i}" for i in range(5)], us10).size is None
    # Widths: DL shows about 72 mm, C5/C6 63 mm (from the text column at 25 mm: 70 and 61 mm).
    wide = ["Jo", "W" * 30]
    assert paper.address_fit(wide, paper.ENVELOPES["dl"]).size is None
    assert "mm" in paper.address_fit(["Jo", "1 " + "Long-Street-" * 6], paper.ENVELOPES["c6"]).problem
