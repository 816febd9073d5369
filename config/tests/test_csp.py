"""The Content-Security-Policy header, the brand stylesheet, and a guard against inline code in templates."""

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from apologies.models import CapturedEmail

TEMPLATES = Path(django_settings.BASE_DIR) / "templates"
# Rendered by WeasyPrint into PDFs, or into emails (mail clients ignore linked stylesheets), never served
# as pages: no Content-Security-Policy applies. The staff email preview shows them in a sandboxed frame.
PDF_ONLY = {"apologies/letters/letter.html", "apologies/email/layout.html"}
INLINE = [
    re.compile(r"<style\b", re.I),
    re.compile(r"\sstyle\s*=", re.I),
    re.compile(r"\son[a-z]+\s*=", re.I),
    re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I),
    # A <script> without src runs inline, unless it is a JSON data block.
    re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I),
]


def test_it_finds_no_inline_script_or_style_in_any_template():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = path.relative_to(TEMPLATES).as_posix()
        if name in PDF_ONLY:
            continue
        for pattern in INLINE:
            found += [f"{name}: {m.group(0)}" for m in pattern.finditer(path.read_text())]
    assert found == []


@pytest.mark.django_db
def test_it_sends_a_strict_policy_on_public_pages(client):
    response = client.get("/sorry/")
    policy = response["Content-Security-Policy"]
    for directive in ["default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'"]:
        assert directive in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert b"<style" not in response.content


def test_it_serves_the_brand_colour_as_a_stylesheet(client):
    response = client.get(reverse("brand_css", args=["123abc"]))
    assert response["Content-Type"].startswith("text/css")
    assert b"--accent: #123abc;" in response.content


def test_it_refuses_a_brand_colour_that_would_escape_the_rule(client, settings):
    settings.AMENDS_BRAND_COLOR = "#b3261e"
    assert b"--accent: #b3261e;" in client.get("/brand/red;}body{display:none.css").content


def test_it_lets_staff_email_previews_use_inline_styles_only_there(marketer_client):
    assert "unsafe-inline" not in marketer_client.get("/campaigns/outbox/")["Content-Security-Policy"]
    email = CapturedEmail.objects.create(to="a@example.com", from_email="x@example.com", subject="S", html="<p>x</p>")
    policy = marketer_client.get(f"/campaigns/outbox/{email.id}/")["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in policy
    assert "script-src 'self'" in policy
