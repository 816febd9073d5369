"""The preflight before letters print: public site URL, 300 ppi images, the sheet limit; named on the page."""

from __future__ import annotations

import base64
import io

import pytest
from django.urls import reverse
from PIL import Image

from apologies.campaigns import lifecycle
from apologies.campaigns.models import CampaignError
from apologies.letters import layout, preflight
from apologies.letters import services as letter_batches
from apologies.letters.layout import MAX_EMBED_PIXELS, embed_check
from apologies.letters.models import LetterSettings, return_address_problem
from apologies.tests.letters_factories import letter_campaign, pdf_words

pytestmark = pytest.mark.django_db

SENDER = "Amends Inc.\n500 Market St\nSan Francisco, CA 94105"


def png_uri(width: int, height: int) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def campaign_with(marketer, approver, body: str | None = None, **kwargs):
    return letter_campaign(
        marketer,
        approver,
        people={"zoe@example.com": {"first_name": "Zoë"}},
        letter_settings={"return_address": SENDER},
        letter_body=body,
        **kwargs,
    )


def messages(campaign) -> list[str]:
    return [p.message for p in preflight.letters_preflight(campaign=campaign)]


def test_it_names_a_site_url_nobody_outside_can_reach(marketer, approver, settings):
    campaign = campaign_with(marketer, approver, start=False)
    settings.SITE_URL = "http://127.0.0.1:8000"
    [loopback, plain] = preflight.letters_preflight(campaign=campaign)
    assert "letters would print 127.0.0.1:8000/sorry, which nobody can reach" in loopback.message
    assert "not https" in plain.message
    settings.SITE_URL = "https://sorry.brand.example.com"
    assert messages(campaign) == []
    for private in ("http://localhost:8000", "https://10.0.0.5", "https://amends.local", "https://intranet"):
        settings.SITE_URL = private
        assert any("nobody can reach" in m for m in messages(campaign)), private


def test_it_stops_the_batch_when_the_preflight_is_strict(marketer, approver, settings):
    campaign = campaign_with(marketer, approver)
    settings.SITE_URL, settings.AMENDS_LETTERS_PREFLIGHT_STRICT = "http://127.0.0.1:8000", True
    with pytest.raises(CampaignError, match="Fix these before printing: The site URL is http://127.0.0.1:8000"):
        letter_batches.batches_create(campaign=campaign, user=approver)
    settings.AMENDS_LETTERS_PREFLIGHT_STRICT = False
    run = letter_batches.batches_create(campaign=campaign, user=approver)
    assert run.letters == 1 and any("nobody can reach" in w for w in run.warnings)


def test_it_wants_images_at_300_ppi_at_their_printed_size(marketer, approver, settings):
    settings.SITE_URL = "https://sorry.brand.example.com"
    image = png_uri(600, 200)
    campaign = campaign_with(marketer, approver, f'<p>Dear {{{{ first_name }}}}</p><img src="{image}">', start=False)
    [problem] = messages(campaign)
    # 600 px at 96 px/in prints 6.25 in wide: 96 ppi. Two inches wide is 300 ppi.
    assert "prints at 96 ppi, under 300: give it a width of at most 2.00 in" in problem
    template = campaign.templates.get()
    template.letter_body = f'<p>Dear</p><img src="{image}" style="width: 2in">'
    template.save()
    assert messages(campaign) == []
    # The width a marketer sets survives the cleaning, so the image really prints that small.
    assert 'style="width:2in"' in layout.clean_letter_html(template.letter_body)


def test_it_holds_back_a_letter_longer_than_the_envelope_takes(marketer, approver, settings):
    settings.SITE_URL = "https://sorry.brand.example.com"
    body = "<p>Dear {{ first_name }},</p>" + "<p>We are sorry, and here is what went wrong, at length.</p>" * 400
    campaign = campaign_with(marketer, approver, body)
    [problem] = messages(campaign)
    assert "sheets: a US Letter (8.5 x 11 in) in a #10 double-window envelope holds 6" in problem
    with pytest.raises(CampaignError, match="holds 6"):
        letter_batches.batches_create(campaign=campaign, user=approver)


def test_it_shows_the_preflight_on_the_letters_page(marketer, approver, client, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    campaign = campaign_with(marketer, approver)
    client.force_login(approver)
    page = client.get(reverse("apologies:letters", args=[campaign.id])).content.decode()
    assert 'id="preflight"' in page
    assert "letters would print 127.0.0.1:8000/sorry, which nobody can reach" in page
    settings.SITE_URL = "https://sorry.brand.example.com"
    page = client.get(reverse("apologies:letters", args=[campaign.id])).content.decode()
    assert "All clear: the site URL is public" in page


def test_it_refuses_to_embed_svg_oversized_or_huge_images_in_a_letter():
    svg = "data:image/svg+xml;base64," + base64.b64encode(b"<svg><use href='#a'/></svg>").decode()
    with pytest.raises(ValueError, match="may not embed SVG"):
        embed_check(svg)
    with pytest.raises(ValueError, match="over 5 MB"):
        embed_check("data:image/png;base64," + "A" * (8 * 1024 * 1024))
    side = int(MAX_EMBED_PIXELS**0.5) + 10
    with pytest.raises(ValueError, match="pixels"):
        embed_check(png_uri(side, side))
    embed_check(png_uri(600, 200))  # an ordinary logo passes


def test_it_keeps_a_long_site_url_inside_the_way_back_box(marketer, approver, settings):
    settings.SITE_URL = "https://apologies.customer-care.a-very-long-brand-name-motors-north-america.example.com"
    campaign = letter_campaign(marketer, approver, people={"a@example.com": {}})
    words = [w for w in pdf_words(layout.letter_preview(recipient=campaign.recipients.get())) if w.page == 1]
    right_margin = (8.5 - 0.75) * 72  # US Letter: the text column ends 0.75 in from the edge
    assert words and max(w.x_max for w in words) <= right_margin + 1


def test_it_refuses_to_print_in_production_while_the_site_url_is_loopback(marketer, approver, settings):
    campaign = campaign_with(marketer, approver)
    settings.DEBUG, settings.AMENDS_SITE_URL_CHECK, settings.SITE_URL = False, True, "http://127.0.0.1:8000"
    with pytest.raises(CampaignError, match="SITE_URL http://127.0.0.1:8000 is not https"):
        letter_batches.batches_create(campaign=campaign, user=approver)
    assert not campaign.letter_batches.exists()


def test_it_refuses_to_submit_or_approve_letters_the_post_could_not_return(marketer, approver, client, settings):
    settings.SITE_URL = "https://sorry.brand.example.com"
    campaign = letter_campaign(marketer, people={"zoe@example.com": {}}, letter_settings={"return_address": "Amends"})
    # Refused before approval: once sending starts the settings are locked and no letter could ever print.
    with pytest.raises(CampaignError, match=r"Add the return address on the campaign's Letters page"):
        lifecycle.campaign_submit(campaign=campaign, user=marketer)
    assert messages(campaign) == [return_address_problem("Amends")]
    client.force_login(marketer)
    page = client.get(reverse("apologies:letters", args=[campaign.id])).content.decode()
    assert "<strong>Must fix:</strong> Add the return address" in page

    layout.letter_settings_save(campaign=campaign, values={"return_address": SENDER}, user=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    # Submitted before the check: the approver is refused too, naming what to fix.
    LetterSettings.objects.filter(campaign=campaign).update(return_address="Amends")
    with pytest.raises(CampaignError, match="Cannot approve: .* Add the return address"):
        lifecycle.campaign_approve(campaign=campaign, user=approver)
    campaign.refresh_from_db()
    assert campaign.status == "submitted"


def test_it_starts_every_return_address_from_the_brand_and_the_settings_address(marketer, settings):
    settings.AMENDS_BRAND_NAME, settings.AMENDS_LETTERS_RETURN_ADDRESS = "Brand", "1 Main St\nSpringfield, IL 62701"
    campaign = letter_campaign(marketer, people={"zoe@example.com": {}}, start=False)
    assert LetterSettings.unsaved_default(campaign).return_address == "Brand\n1 Main St\nSpringfield, IL 62701"
    settings.AMENDS_LETTERS_RETURN_ADDRESS = ""
    default = LetterSettings.unsaved_default(campaign).return_address
    assert default == "Brand" and return_address_problem(default)
