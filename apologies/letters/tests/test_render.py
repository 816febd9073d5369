"""The letter as printed: the envelope windows, the words, the way back, and what marketer HTML may reach."""

from __future__ import annotations

import logging
import socket
import subprocess
import tempfile
import threading

import pytest
from django.conf import settings

from apologies import links
from apologies.letters import checks, layout, paper, qr
from apologies.models import LetterSettings
from apologies.tests.letters_factories import letter_campaign, page_size_pt, pdf_pages, pdf_text, pdf_words, qr_codes
from apologies.wayback import services as wayback

pytestmark = pytest.mark.django_db

IN = 72.0
MM = 72 / 25.4
US_SENDER = "Amends Inc.\n500 Market St\nSan Francisco, CA 94105"
DE_SENDER = "Amends GmbH\nFriedrichstraße 10\n10117 Berlin"


def settings_for(campaign, **fields) -> LetterSettings:
    ls = layout.letter_settings(campaign)
    for name, value in fields.items():
        setattr(ls, name, value)
    ls.save()
    return ls


def header_words(pdf: bytes, *, body_top: float, right_of: float):
    """Page 1 words above the body and left of the date column: the return block and the address."""
    return [w for w in pdf_words(pdf) if w.page == 1 and w.y_min < body_top and w.x_min < right_of]


def inside(words, *, left: float, top: float, width: float, height: float) -> bool:
    return all(
        left <= w.x_min and w.x_max <= left + width and top <= w.y_min and w.y_max <= top + height for w in words
    )


def test_it_puts_the_address_in_the_us_10_window(marketer, approver):
    campaign = letter_campaign(
        marketer, approver, people={"zoe@example.com": {"first_name": "Zoë", "last_name": "Łukasz"}}, start=False
    )
    settings_for(campaign, return_address=US_SENDER, return_country="US")
    recipient = campaign.recipients.get()
    pdf = layout.letter_preview(recipient=recipient)

    assert page_size_pt(pdf) == (612.0, 792.0)
    head = header_words(pdf, body_top=3.375 * IN, right_of=4.5 * IN)
    return_block = [w for w in head if w.y_min < 1.5 * IN]
    address = [w for w in head if w.y_min >= 1.5 * IN]
    assert " ".join(w.text for w in return_block) == "Amends Inc. 500 Market St San Francisco, CA 94105"
    # Domestic mail: no country line.
    assert " ".join(w.text for w in address) == "Zoë Łukasz 1600 Amphitheatre Pkwy MOUNTAIN VIEW, CA 94043"
    # The reference's sheet-side clear zones (1/8 in inside each window): x 0.75-4.50, y 1.825-2.575 in;
    # return x 0.75-3.75, y 0.625-1.25 in. Aligned with the body's text column at 0.75 in.
    assert inside(address, left=0.75 * IN, top=1.825 * IN, width=3.75 * IN, height=0.75 * IN)
    assert inside(return_block, left=0.75 * IN, top=0.625 * IN, width=3.0 * IN, height=0.625 * IN)
    assert min(w.x_min for w in address) == min(w.x_min for w in return_block) == 0.75 * IN
    assert min(w.x_min for w in pdf_words(pdf) if w.text == "Dear") == 0.75 * IN
    # The body starts below the fold line; nothing prints within 1/16 in of an edge.
    words = pdf_words(pdf)
    body = [w for w in words if w.y_min >= 3.375 * IN]
    assert body and body[0].text == "Dear"
    assert all(w in head or w.y_min >= 3.375 * IN or w.x_min >= 4.5 * IN for w in words if w.page == 1)
    assert inside(words, left=IN / 16, top=IN / 16, width=612 - IN / 8, height=792 - IN / 8)


def test_it_puts_the_address_in_the_din_5008_field_on_a4(marketer, approver):
    campaign = letter_campaign(
        marketer,
        approver,
        people={"soren@example.com": {"country": "GB", "first_name": "Søren", "address_line2": "Flat 2"}},
        start=False,
    )
    settings_for(campaign, page_size="a4", return_address=DE_SENDER, return_country="DE")
    pdf = layout.letter_preview(recipient=campaign.recipients.get())

    width, height = page_size_pt(pdf)
    assert (round(width / MM), round(height / MM)) == (210, 297)
    field = [w for w in pdf_words(pdf) if w.page == 1 and 45 * MM <= w.y_min < 100 * MM and w.x_min < 110 * MM]
    return_line = [w for w in field if w.y_max - w.y_min < 10]  # 6.5 pt, above the address
    address = [w for w in field if w not in return_line]
    assert " ".join(w.text for w in return_line) == "Amends GmbH · Friedrichstraße 10 · 10117 Berlin"
    # Abroad: the UK's own line order, and the country's name last.
    assert " ".join(w.text for w in address) == "Søren Doe 10 Downing St Flat 2 LONDON SW1A 2AA UNITED KINGDOM"
    # DIN 5008 form B: the address field is 85 x 45 mm at 20 mm / 45 mm; 1/8 in clear and 72 mm wide for DL.
    assert inside(field, left=20 * MM + IN / 8, top=45 * MM + IN / 8, width=72 * MM, height=45 * MM - IN / 4)
    assert min(w.x_min for w in address) == pytest.approx(25 * MM)  # the text column
    assert min(w.y_min for w in pdf_words(pdf) if w.text == "Dear") >= 100 * MM


def test_it_flows_a_long_letter_to_a_second_page_with_the_address_on_the_first(marketer, approver):
    campaign = letter_campaign(marketer, approver, people={"zoe@example.com": {"first_name": "Zoë"}}, start=False)
    settings_for(campaign, return_address=US_SENDER)
    template = campaign.templates.get()
    template.letter_body = (
        "<p>Dear {{ first_name }},</p>"
        + "".join(f"<p>Paragraph {i}: we are sorry, and here is exactly what went wrong.</p>" for i in range(60))
        + "{{ invitation }}<p>With our apologies,<br>{{ sender_name }}</p>"
    )
    template.save()
    pages = pdf_pages(layout.letter_preview(recipient=campaign.recipients.get()))

    assert len(pages) >= 2
    assert "Amphitheatre" in pages[0] and all("Amphitheatre" not in p for p in pages[1:])
    assert "Paragraph 0:" in pages[0] and "Paragraph 59:" in pages[-1]
    assert "With our apologies" in pages[-1]


def test_it_prints_names_with_markup_as_text_in_fonts_that_have_the_glyphs(marketer, approver):
    campaign = letter_campaign(
        marketer,
        approver,
        people={"x@example.com": {"first_name": "<b>Zoë</b>", "last_name": "<script>Łukasz</script> Søren"}},
        start=False,
    )
    settings_for(campaign, return_address=US_SENDER)
    pdf = layout.letter_preview(recipient=campaign.recipients.get())

    text = pdf_text(pdf)
    assert "<b>Zoë</b> <script>Łukasz</script> Søren" in text  # the window
    assert "Dear <b>Zoë</b>," in text  # the body
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        fonts = subprocess.run(["pdffonts", f.name], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(" yes " in row for row in rows)  # embedded
    assert all("Noto" in row or "DejaVu" in row for row in rows)


def test_it_prints_the_way_back_only_where_the_country_allows_it(marketer, approver):
    campaign = letter_campaign(
        marketer,
        approver,
        people={"us@example.com": {"first_name": "Chloé"}, "de@example.com": {"country": "DE", "first_name": "Jürgen"}},
        start=False,
    )
    settings_for(campaign, return_address=US_SENDER)
    us = campaign.recipients.get(email="us@example.com")
    de = campaign.recipients.get(email="de@example.com")
    assert us.invite_allowed and not de.invite_allowed

    invited = layout.letter_preview(recipient=us)
    text = " ".join(pdf_text(invited).split())
    assert "127.0.0.1:8000/sorry" in text
    assert f"Your code: {us.short_code}" in text
    # The QR code carries the signed personal link (signed with a timestamp), not the short one.
    [link] = qr_codes(invited)
    prefix = links.public_url(settings.AMENDS_SORRY_PATH)
    assert link.startswith(prefix) and links.resubscribe_url(us).startswith(prefix)
    assert wayback.sorry_recipient(link.removeprefix(prefix)) == us

    apology_only = layout.letter_preview(recipient=de)
    text = pdf_text(apology_only)
    assert "Jürgen" in text and "sorry" in text.lower()
    assert de.short_code not in text and "/sorry" not in text and "Your code" not in text
    assert qr_codes(apology_only) == []


def test_it_prints_the_qr_code_in_black_ink_alone_one_pixel_a_module(marketer, approver, tmp_path):
    campaign = letter_campaign(marketer, approver, people={"us@example.com": {"first_name": "Chloé"}}, start=False)
    settings_for(campaign, return_address=US_SENDER)
    us = campaign.recipients.get(email="us@example.com")

    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(layout.letter_preview(recipient=us))

    [link] = qr_codes(pdf.read_bytes())
    prefix = links.public_url(settings.AMENDS_SORRY_PATH)
    assert wayback.sorry_recipient(link.removeprefix(prefix)) == us
    size = str(qr.qr_modules(link)[0] + 4)  # a quiet zone of two modules (test_qr checks the symbol itself)
    # pdfimages -list: page, num, type, width, height, color, comp, bpc, enc, interp, ... (the logo is one too)
    listed = subprocess.run(["pdfimages", "-list", pdf], capture_output=True, text=True, check=True).stdout
    images = [line.split() for line in listed.splitlines()[2:]]
    # Grey, not RGB (K only on a press), one pixel a module, drawn unsmoothed.
    assert [image[3:10] for image in images if image[3:5] == [size, size]] == [
        [size, size, "gray", "1", "8", "image", "no"]
    ]


class Listener:
    """A local TCP port that counts connections: proof that rendering opened none."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


def test_it_keeps_marketer_html_away_from_files_and_the_network(marketer, approver, tmp_path, monkeypatch):
    secret = tmp_path / "secret.svg"
    secret.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>TOPSECRET</text></svg>')
    listener = Listener()
    fetched: list[tuple[str, bool]] = []
    original = layout.StaticOnlyFetcher.fetch

    def spy(self, url, headers=None):
        try:
            response = original(self, url, headers)
        except Exception:
            fetched.append((url, False))
            raise
        fetched.append((url, True))
        return response

    monkeypatch.setattr(layout.StaticOnlyFetcher, "fetch", spy)
    campaign = letter_campaign(marketer, approver, people={"zoe@example.com": {"first_name": "Zoë"}}, start=False)
    settings_for(campaign, return_address=US_SENDER)
    template = campaign.templates.get()
    web = f"http://127.0.0.1:{listener.port}"
    template.letter_body = (
        f'<p>Dear {{{{ first_name }}}}</p><img src="file://{secret}"><img src="{web}/pixel.png">'
        f'<link rel="stylesheet" href="{web}/a.css"><style>@import url("{web}/b.css"); p {{ color: red }}</style>'
        f'<a rel="attachment" href="file:///etc/passwd">terms</a><img src="/static/favicon.svg" alt="logo">'
        f'<img src="../../../../etc/hostname"><p style="position: fixed; top: 0">{{{{ first_name }}}} again</p>'
    )
    template.save()
    try:
        pdf = layout.letter_preview(recipient=campaign.recipients.get())
    finally:
        listener.close()

    assert listener.connections == 0
    assert "TOPSECRET" not in pdf_text(pdf) and b"root:" not in pdf
    # The QR code is a data: PNG of the app's own making; the only file reached is a static one.
    assert [url for url, ok in fetched if ok and not url.startswith("data:image/png")] == [
        layout.static_base_url() + "letters/amends-logo.png",
        layout.static_base_url() + "favicon.svg",
    ]
    assert all(
        not ok for url, ok in fetched if "favicon" not in url and "logo" not in url and "data:image/png" not in url
    )
    # The fetcher itself, whatever reaches it:
    fetcher = layout.StaticOnlyFetcher()
    for url in (
        "file:///etc/passwd",
        f"{web}/x.png",
        layout.static_base_url() + "../../../etc/passwd",
        layout.static_base_url() + "%2e%2e/%2e%2e/etc/passwd",
        "https://letters.amends.invalid/media/letters/other.pdf",
    ):
        with pytest.raises(ValueError):
            original(fetcher, url)
    assert original(fetcher, "data:text/plain,hello").read() == b"hello"


def test_it_keeps_each_persons_words_on_their_own_pages(marketer, approver):
    """position: fixed would repeat on every page of a batch: marketer HTML loses it."""
    people = {f"p{i}@example.com": {"first_name": f"Person{i}"} for i in range(3)}
    campaign = letter_campaign(marketer, approver, people=people, start=False)
    settings_for(campaign, return_address=US_SENDER)
    template = campaign.templates.get()
    template.letter_body = '<p style="position: fixed; top: 0">Private to {{ first_name }}</p>'
    template.save()
    writer = layout.LetterWriter(campaign)
    items = [
        layout.LetterInput(r, n, [r.contact.name, "1 Main St", "X"])
        for n, r in enumerate(campaign.recipients.order_by("email"), start=1)
    ]
    pages = pdf_pages(layout.laid_pdf(layout.letters_layout(writer, items, duplex=False), title="t"))
    assert len(pages) == 3
    for n, page in enumerate(pages):
        assert [f"Person{i}" for i in range(3) if f"Private to Person{i}" in page] == [f"Person{n}"]


def test_it_holds_an_address_that_does_not_fit_the_window():
    us10 = paper.ENVELOPES["us10"]
    assert paper.address_fit(["Zoë Doe", "1 Main St", "SPRINGFIELD, IL 62701"], us10).size == 10.0
    # Four lines fit at a smaller size (the default 0.2 in slack); eight do not fit at all.
    assert paper.address_fit([f"Line {i}" for i in range(4)], us10).size == 8.0
    fit = paper.address_fit([f"Line {i}" for i in range(8)], us10)
    assert fit.size is None and "8 lines" in fit.problem
    fit = paper.address_fit(["Zoë", "W" * 60, "X"], us10)
    assert fit.size is None and "mm long" in fit.problem


def test_it_warns_at_start_up_when_harfbuzz_subset_is_missing(monkeypatch, caplog):
    from weasyprint.text import ffi

    monkeypatch.setattr(checks, "fonts_warned_flag", False)
    with caplog.at_level(logging.WARNING, logger="apologies.letters"):
        checks.fonts_warn()
    assert not caplog.records  # installed here

    monkeypatch.setattr(ffi, "harfbuzz_subset", None)
    monkeypatch.setattr(checks, "fonts_warned_flag", False)
    with caplog.at_level(logging.WARNING, logger="apologies.letters"):
        checks.fonts_warn()
        checks.fonts_warn()  # once per process
    assert [r.getMessage()[:50] for r in caplog.records] == ["libharfbuzz-subset0 is not installed: WeasyPrint f"]


def test_it_prints_the_way_back_even_where_the_letter_words_forgot_it(marketer, approver):
    campaign = letter_campaign(marketer, approver, people={"zoe@example.com": {"first_name": "Zoë"}}, start=False)
    settings_for(campaign, return_address=US_SENDER)
    template = campaign.templates.get()
    # No letter words: the email's text is printed instead, its markup-looking text as text.
    template.letter_body, template.html_body = "", ""
    template.text_body = "Dear {{ first_name }},\n\nSorry for the <loop>.\n\n{{ sender_name }}"
    template.save()
    recipient = campaign.recipients.get()
    text = " ".join(pdf_text(layout.letter_preview(recipient=recipient)).split())
    assert "Dear Zoë, Sorry for the <loop>. The team" in text
    assert f"Your code: {recipient.short_code}" in text
