"""What a marketer sees before approval: a letter's pages as images, and who reads which plural form."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from django.core.cache import cache

from apologies.campaigns.models import Campaign, CampaignError, Recipient
from apologies.letters.layout import letter_preview

PREVIEW_DPI = 100
PREVIEW_SECONDS = 60


def letter_pngs(*, recipient: Recipient) -> list[bytes]:
    """The person's letter, page by page, as PNG images (poppler's pdftoppm), kept a minute in the cache."""
    key = f"amends:letter-preview:{recipient.id}:{recipient.campaign.updated.timestamp()}"
    pages = cache.get(key)
    if pages is not None:
        return pages
    pdf = letter_preview(recipient=recipient)
    with tempfile.TemporaryDirectory(prefix="amends-preview-") as folder:
        source = Path(folder) / "letter.pdf"
        source.write_bytes(pdf)
        try:
            subprocess.run(
                ["pdftoppm", "-png", "-r", str(PREVIEW_DPI), str(source), str(Path(folder) / "page")],
                check=True,
                capture_output=True,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError) as e:
            raise CampaignError(f"The letter could not be drawn as images ({type(e).__name__}): open the PDF.") from e
        pages = [p.read_bytes() for p in sorted(Path(folder).glob("page-*.png"))]
    cache.set(key, pages, timeout=PREVIEW_SECONDS)
    return pages


def letter_page_count(*, recipient: Recipient) -> int:
    return len(letter_pngs(recipient=recipient))


def letter_page_png(*, recipient: Recipient, page: int) -> bytes:
    pages = letter_pngs(recipient=recipient)
    if not 1 <= page <= len(pages):
        raise CampaignError(f"The letter has {len(pages)} pages.")
    return pages[page - 1]


def plural_forms(*, campaign: Campaign, recipient: Recipient | None = None) -> list[dict]:
    """For each plural-aware placeholder: how many people read the singular and the plural form."""
    people = campaign.recipients.exclude(channel=Recipient.Channel.NONE)
    rows = []
    for name, field in (("emails_received_phrase", "messages"), ("max_in_10_min_phrase", "max_in_10_min")):
        one = people.filter(**{field: 1}).count()
        rows.append(
            {
                "name": name,
                "one": one,
                "many": people.exclude(**{field: 1}).count(),
                "this": None if recipient is None else getattr(recipient, field),
            }
        )
    return rows
