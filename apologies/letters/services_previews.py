"""Letter previews: drawn by a worker under a time limit, read by the pages.

A letter body is marketer HTML: however well its embeds are bounded (layout.embed_check), laying it out is
work a web request should not do. A marketer asks for a preview (POST), a worker draws the PDF and its pages
as PNGs and stores them on a LetterPreview row; the preview page reads that row and shows the pages once
they are ready and still match what the letter is made of today.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from apologies.campaigns.fingerprint import campaign_fingerprint, fields_of
from apologies.campaigns.models import CampaignError, Recipient
from apologies.letters import layout, tasks
from apologies.letters.models import LetterPreview, LetterPreviewPage
from incidents.contacts.models import Contact

PREVIEW_DPI = 100
# The worker's soft limit; the hard limit is a little later (tasks.render_letter_preview).
RENDER_SECONDS = 60
# A preview still "being drawn" this long after it started lost its worker: shown as failed, drawn again on request.
STALE_AFTER = timedelta(seconds=RENDER_SECONDS + 60)
PAGES_MAX = 20


def preview_version(*, recipient: Recipient) -> str:
    """A digest (64 hex) of what the person's letter is made of: the campaign's words, brand, letter settings and
    gift packages (the approval fingerprint without the recipient list), the person's own row and address."""
    parts = campaign_fingerprint(campaign=recipient.campaign, recipients=False)
    # Read again from the database: a bulk update of an address does not touch `updated`, nor objects in memory.
    person = Recipient.objects.get(pk=recipient.pk)
    contact = Contact.objects.filter(pk=person.contact_id).first()
    own = {
        "recipient": fields_of(person),
        "contact": fields_of(contact, exclude={"created", "updated"}) if contact is not None else None,
    }
    text = json.dumps({"parts": parts, "own": own}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def preview_current(*, recipient: Recipient) -> LetterPreview | None:
    """The person's preview if it was drawn (or is being drawn) from the letter as it is today, else None."""
    preview = LetterPreview.objects.filter(recipient=recipient).defer("pdf").first()
    if preview is None or preview.version != preview_version(recipient=recipient):
        return None
    return preview


def preview_state(preview: LetterPreview | None) -> str:
    """What the page says: "none", "queued", "rendering", "ready" or "failed" (a lost worker reads as failed)."""
    if preview is None:
        return "none"
    if preview.status in (LetterPreview.Status.QUEUED, LetterPreview.Status.RENDERING):
        since = preview.started_at or preview.requested_at
        if timezone.now() - since > STALE_AFTER:
            return "failed"
    return preview.status


def letter_preview_request(*, recipient: Recipient, user) -> LetterPreview:
    """Ask a worker to draw the person's letter as it would print today; a preview already current is kept.

    Raises CampaignError when the person gets no letter or has no postal address.
    """
    if recipient.channel != Recipient.Channel.LETTER:
        raise CampaignError(f"{recipient.email} is not sent a letter: there is nothing to draw.")
    if recipient.contact is None:
        raise CampaignError(f"{recipient.email} has no postal address: there is no letter to show.")
    version = preview_version(recipient=recipient)
    with transaction.atomic():
        preview = LetterPreview.objects.select_for_update().filter(recipient=recipient).first()
        # Already drawn, or being drawn, from the letter as it is today: nothing to ask again.
        if preview is not None and preview.version == version and preview_state(preview) != "failed":
            return preview
        if preview is None:
            preview = LetterPreview(recipient=recipient)
        preview.version = version
        preview.status = LetterPreview.Status.QUEUED
        preview.pdf = b""
        preview.error = ""
        preview.requested_at = timezone.now()
        preview.started_at = preview.finished_at = None
        preview.save()
        preview.pages.all().delete()
        preview_id = preview.id
        transaction.on_commit(lambda: tasks.render_letter_preview.delay(preview_id))
    return preview


def letter_preview_render(*, preview_id: int) -> str:
    """Draw one asked-for preview (run by the worker): claim it, lay the letter out, store the PDF and pages."""
    claimed = LetterPreview.objects.filter(id=preview_id, status=LetterPreview.Status.QUEUED).update(
        status=LetterPreview.Status.RENDERING, started_at=timezone.now()
    )
    if not claimed:
        return "not queued"
    preview = LetterPreview.objects.select_related("recipient__campaign__incident", "recipient__contact").get(
        id=preview_id
    )
    try:
        pdf = layout.letter_preview(recipient=preview.recipient)
        pngs = pdf_pngs(pdf)
    except CampaignError as e:
        return preview_fail(preview_id=preview_id, reason=str(e))
    with transaction.atomic():
        done = LetterPreview.objects.filter(id=preview_id, status=LetterPreview.Status.RENDERING).update(
            status=LetterPreview.Status.READY, pdf=pdf, finished_at=timezone.now()
        )
        if done:
            LetterPreviewPage.objects.bulk_create(
                LetterPreviewPage(preview_id=preview_id, number=n, png=png) for n, png in enumerate(pngs, 1)
            )
    return "ready" if done else "superseded"


def preview_fail(*, preview_id: int, reason: str) -> str:
    LetterPreview.objects.filter(
        id=preview_id, status__in=[LetterPreview.Status.QUEUED, LetterPreview.Status.RENDERING]
    ).update(status=LetterPreview.Status.FAILED, error=reason[:500], finished_at=timezone.now())
    return "failed"


def pdf_pngs(pdf: bytes) -> list[bytes]:
    """The PDF's pages as PNG images (poppler's pdftoppm), at most PAGES_MAX; raises CampaignError if it fails."""
    with tempfile.TemporaryDirectory(prefix="amends-preview-") as folder:
        source = Path(folder) / "letter.pdf"
        source.write_bytes(pdf)
        try:
            subprocess.run(
                ["pdftoppm", "-png", "-r", str(PREVIEW_DPI), "-l", str(PAGES_MAX), str(source), f"{folder}/page"],
                check=True,
                capture_output=True,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError) as e:
            raise CampaignError(f"The letter could not be drawn as images ({type(e).__name__}): open the PDF.") from e
        return [p.read_bytes() for p in sorted(Path(folder).glob("page-*.png"))]


def preview_pdf(*, recipient: Recipient) -> bytes:
    """The drawn PDF of a current, ready preview; raises CampaignError when there is none to give."""
    preview = preview_current(recipient=recipient)
    if preview is None or preview.status != LetterPreview.Status.READY:
        raise CampaignError("This letter has not been drawn as it is today: ask for a preview on the person's page.")
    return bytes(LetterPreview.objects.values_list("pdf", flat=True).get(id=preview.id))


def preview_page_png(*, recipient: Recipient, page: int) -> bytes:
    """One page of a current, ready preview; raises CampaignError when there is no such page."""
    preview = preview_current(recipient=recipient)
    if preview is None or preview.status != LetterPreview.Status.READY:
        raise CampaignError("This letter has not been drawn as it is today.")
    row = LetterPreviewPage.objects.filter(preview=preview, number=page).values_list("png", flat=True).first()
    if row is None:
        raise CampaignError(f"The letter has {preview.pages.count()} pages.")
    return bytes(row)
