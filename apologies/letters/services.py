"""Batches for the mail house: held-out addresses, rendering claimed by one worker, manifest, mailed, export."""

from __future__ import annotations

import csv
import io
import secrets
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import NamedTuple

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Max, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from apologies.campaigns import fingerprint, lifecycle
from apologies.campaigns.audit import audit_add
from apologies.campaigns.models import Campaign, CampaignError, Recipient
from apologies.letters import gifts, glyphs, preflight, tasks
from apologies.letters.addressing import window_address
from apologies.letters.layout import (
    LetterInput,
    LetterWriter,
    laid_pdf,
    letter_envelope,
    letter_settings,
    letters_layout,
    log,
)
from apologies.letters.models import (
    GiftPackage,
    GiftReservation,
    Letter,
    LetterBatch,
    LetterHold,
    LetterSettings,
    return_address_problem,
)
from apologies.letters.paper import Envelope, address_fit, envelopes_fitting
from apologies.sending.models import Delivery
from incidents.exports import csv_safe
from incidents.models import Contact, Suppression

STALE_SECONDS = 120  # a rendering batch without a heartbeat for this long lost its worker


STARTED = (Campaign.Status.SENDING, Campaign.Status.PAUSED, Campaign.Status.COMPLETED)


class Pending(NamedTuple):
    """A letter waiting to be batched: its delivery and what the batching reads of its recipient."""

    id: int
    email: str
    recipient_id: int
    tier: int
    gift: bool
    short_code: str
    contact_id: int | None


@dataclass
class Held:
    recipient: Recipient
    reason: str
    delivery: Delivery | None = None
    # True when the address is complete but the chosen envelope's window cannot show it: another paper and
    # envelope would print it, so fixing the address is not the remedy.
    envelope_fix: bool = False


class LetterProblem(NamedTuple):
    """Why a letter cannot print ("" when it can), the lines its window shows, and whether another envelope would."""

    problem: str
    lines: list[str]
    envelope_fix: bool = False


def letter_problem(contact: Contact | None, *, ls: LetterSettings, envelope: Envelope) -> LetterProblem:
    """Why this person's letter cannot print ("" when it can), and the lines its window shows."""
    problem, lines = window_address(contact, sender_country=ls.return_country)
    if problem:
        return LetterProblem(problem, [])
    missing = glyphs.missing_chars("".join(lines) + contact.first_name + contact.last_name)
    if missing:
        problem = f"no installed font prints {glyphs.describe(missing)}: install one, or fix the name"
        return LetterProblem(problem, lines)
    problem = address_fit(lines, envelope).problem
    if not problem:
        return LetterProblem("", lines)
    others = envelopes_fitting(lines, other_than=envelope)
    if not others:
        return LetterProblem(problem, lines)
    choices = " or ".join(e.label for e in others)
    return LetterProblem(
        f"{problem}. The address is complete but too big for this window: it fits {choices} "
        "(choose the paper and envelope in the letter settings)",
        lines,
        envelope_fix=True,
    )


def holds(campaign: Campaign) -> dict[int, LetterHold]:
    """Letters taken out after layout, by delivery; a hold ends when its contact is changed after it."""
    found = {}
    for hold in LetterHold.objects.filter(campaign=campaign).select_related("delivery__recipient__contact"):
        contact = hold.delivery.recipient.contact
        if contact is None or contact.updated <= hold.created:
            found[hold.delivery_id] = hold
    return found


def letters_held(*, campaign: Campaign) -> list[Held]:
    """Letters waiting for a usable address: fixing the contact puts them back in the next batch."""
    ls = letter_settings(campaign)
    envelope = letter_envelope(ls)
    held_after_layout = holds(campaign)
    if campaign.status in STARTED or campaign.status == Campaign.Status.CANCELLED:
        rows = (
            campaign.deliveries.filter(
                channel=Recipient.Channel.LETTER, status=Delivery.Status.QUEUED, letter__isnull=True
            )
            .select_related("recipient__contact")
            .order_by("email")
        )
        pairs = [(d.recipient, d) for d in rows]
    else:
        rows = campaign.recipients.filter(channel=Recipient.Channel.LETTER).select_related("contact")
        pairs = [(r, None) for r in rows.order_by("email")]
    held = []
    for recipient, delivery in pairs:
        problem, _, envelope_fix = letter_problem(recipient.contact, ls=ls, envelope=envelope)
        if not problem and delivery is not None and delivery.id in held_after_layout:
            problem = held_after_layout[delivery.id].reason
        if problem:
            held.append(Held(recipient, problem, delivery, envelope_fix))
    return held


def letters_without_address(*, campaign: Campaign) -> list[Recipient]:
    """People who objected and got no letter for want of an address: a fixed address counts when planned again."""
    objected = [r for r in Recipient.Reason.values if r not in (Recipient.Reason.SUBSCRIBED, Recipient.Reason.ALREADY)]
    return list(
        campaign.recipients.filter(channel=Recipient.Channel.NONE, reason__in=objected)
        .select_related("contact")
        .order_by("email")[:200]
    )


@dataclass
class BatchRun:
    batches: list[LetterBatch]
    held: list[Held]
    never_again: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def letters(self) -> int:
        return sum(b.letters_count for b in self.batches)


def batches_create(*, campaign: Campaign, user, size: int | None = None) -> BatchRun:
    """Every letter not yet printed, in batches of up to `size`, sorted by country and postal code."""
    if campaign.status not in STARTED:
        raise CampaignError(
            "Letters are printed once sending has started: an approved campaign is a promise to these people."
        )
    changed = fingerprint.changed_parts(campaign=campaign, recipients=False)
    if changed:
        lifecycle.campaign_approval_check(campaign=campaign, user=user, recipients=False)
        raise CampaignError(
            f"Not rendered: {', '.join(changed)} changed since the approval. An approver has to look again."
        )
    ls = letter_settings(campaign)
    envelope = letter_envelope(ls)
    # Submission and approval refuse this too; campaigns approved before they did can still reach here.
    missing = return_address_problem(ls.return_address)
    if missing:
        raise CampaignError(missing)
    checked = preflight.letters_preflight(campaign=campaign)
    blocking = [p.message for p in checked if p.blocks]
    if blocking:
        raise CampaignError("Fix these before printing: " + " ".join(blocking))
    size = max(1, size or ls.batch_size)
    profile = ls.print_profile.snapshot() if ls.print_profile_id else {}
    with transaction.atomic():
        # One batching at a time per campaign (PostgreSQL row lock; SQLite writes are serialised anyway).
        Campaign.objects.select_for_update().filter(id=campaign.id).first()
        waiting = campaign.deliveries.filter(
            channel=Recipient.Channel.LETTER, status=Delivery.Status.QUEUED, letter__isnull=True
        )
        # Plain values and one query for the contacts: three model instances a letter took 60 µs of the ~250
        # a letter costs to batch (100,000 letters: about 6 s of the marketer's wait).
        pending = [
            Pending(*row)
            for row in waiting.values_list(
                "id", "email", "recipient_id", "recipient__tier", "recipient__gift", "recipient__short_code",
                "recipient__contact_id",
            )
        ]  # fmt: skip
        contacts = {c.id: c for c in Contact.objects.filter(id__in=waiting.values("recipient__contact_id"))}
        # "Never contact me again, by email or by post", chosen since the campaign was planned.
        never = set(
            Suppression.objects.filter(
                email__in=[d.email for d in pending], reason=Suppression.Reason.NEVER_AGAIN
            ).values_list("email", flat=True)
        )
        if never:
            Delivery.objects.filter(id__in=[d.id for d in pending if d.email in never]).update(
                status=Delivery.Status.SKIPPED, error="asked never to be contacted again"
            )
        packages = {a.tier: a.package.sku for a in campaign.gift_assignments.select_related("package")}
        held_after_layout = holds(campaign)
        problems, ready = {}, []
        for d in pending:
            if d.email in never:
                continue
            contact = contacts.get(d.contact_id)
            problem, lines, envelope_fix = letter_problem(contact, ls=ls, envelope=envelope)
            if not problem and d.id in held_after_layout:
                problem = held_after_layout[d.id].reason
            if problem:
                problems[d.id] = (problem, envelope_fix)
            else:
                ready.append((d, contact, lines))
        held = [
            Held(delivery.recipient, problems[delivery.id][0], delivery, envelope_fix=problems[delivery.id][1])
            for delivery in Delivery.objects.filter(id__in=problems).select_related("recipient__contact")
        ]
        # Presort: the mail house's discount depends on postal codes arriving in order.
        ready.sort(key=lambda x: (x[1].country.upper(), x[1].postal_code.replace(" ", "").upper(), x[1].name))
        last = campaign.letter_batches.aggregate(n=Max("number"))["n"] or 0
        sequence = Letter.objects.filter(campaign=campaign).aggregate(n=Max("sequence"))["n"] or 0
        batches = []
        for start in range(0, len(ready), size):
            chunk = ready[start : start + size]
            last += 1
            batch = LetterBatch.objects.create(
                campaign=campaign,
                number=last,
                page_size=ls.page_size,
                envelope=envelope.key,
                print_profile=profile,
                duplex=ls.duplex,
                letters_count=len(chunk),
                created_by=user,
            )
            rows = []
            for d, contact, lines in chunk:
                sequence += 1
                rows.append(
                    Letter(
                        batch=batch,
                        campaign=campaign,
                        delivery_id=d.id,
                        recipient_id=d.recipient_id,
                        sequence=sequence,
                        name=contact.name[:200],
                        address="\n".join(lines),
                        country=contact.country.upper(),
                        postal_code=contact.postal_code,
                        gift_sku=(packages.get(d.tier, "GIFT") if d.gift else ""),
                        short_code=d.short_code,
                    )
                )
            Letter.objects.bulk_create(rows, batch_size=1000)
            batches.append(batch)
        # One creation time for the whole run: the progress bar counts the run's batches by it.
        LetterBatch.objects.filter(id__in=[b.id for b in batches]).update(created=timezone.now())
        detail = f"{len(ready)} letters in {len(batches)} batches"
        if held:
            detail += f"; {len(held)} held out for their address"
        if never:
            detail += f"; {len(never)} skipped: asked never to be contacted again"
        if batches or held or never:
            audit_add(campaign, user, "letters batched", detail)
        for batch in batches:
            batch_id = batch.id
            transaction.on_commit(lambda b=batch_id: _enqueue_render(b))
    return BatchRun(batches, held, len(never), [p.message for p in checked if not p.blocks])


def _enqueue_render(batch_id: int) -> None:

    tasks.render_letter_batch.delay(batch_id)


def batch_claim(*, batch_id: int) -> str | None:
    """Take a batch to render: a fresh one, or one whose worker stopped sending heartbeats."""
    token = secrets.token_hex(8)
    now = timezone.now()
    claimed = (
        LetterBatch.objects.filter(id=batch_id, status=LetterBatch.Status.RENDERING)
        .filter(Q(claim="") | Q(claimed_at__lt=now - timedelta(seconds=STALE_SECONDS)))
        .update(claim=token, claimed_at=now, rendered=0, error="")
    )
    return token if claimed else None


class ClaimLost(Exception):
    pass


def batch_render(*, batch_id: int) -> str:
    """Lay out and write one batch: the merged PDF, the manifest, and the ZIP of both. Idempotent."""
    token = batch_claim(batch_id=batch_id)
    if token is None:
        return "skipped"
    batch = LetterBatch.objects.select_related("campaign__incident").get(id=batch_id)
    try:
        result = _render(batch, token)
    except ClaimLost:
        return "lost"
    except Exception as exc:  # noqa: BLE001 - a failed batch is shown with its error and can be rendered again
        log.exception("letter batch %s failed", batch_id)
        LetterBatch.objects.filter(id=batch_id, claim=token).update(
            status=LetterBatch.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:500], claim=""
        )
        return "failed"
    return result


def _render(batch: LetterBatch, token: str) -> str:
    campaign = batch.campaign
    letters = list(batch.letters.select_related("recipient__contact", "recipient__campaign").order_by("sequence"))
    writer = LetterWriter(campaign)
    # The settings may have moved on since batching; the batch prints as it was made.
    writer.use(page_size=batch.page_size, envelope=batch.envelope, duplex=batch.duplex, profile=batch.print_profile)
    items = [LetterInput(letter.recipient, letter.sequence, letter.address_lines()) for letter in letters]

    def heartbeat(done: int) -> None:
        alive = LetterBatch.objects.filter(id=batch.id, claim=token).update(rendered=done, claimed_at=timezone.now())
        if not alive:
            raise ClaimLost

    laid = letters_layout(writer, items, duplex=batch.duplex, on_chunk=heartbeat)
    pdf = laid_pdf(laid, title=f"{campaign.name}: letters, batch {batch.number}")
    dropped = [letter for letter in letters if letter.sequence in laid.missing]
    letters = [letter for letter in letters if letter.sequence not in laid.missing]
    for letter in letters:
        letter.first_page, letter.last_page = laid.spans[letter.sequence]
    manifest = manifest_csv(letters, duplex=batch.duplex)
    stem = batch.file_stem()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{stem}.pdf", pdf)
        z.writestr(f"{stem}-manifest.csv", manifest)
    with transaction.atomic():
        if not LetterBatch.objects.filter(id=batch.id, claim=token, status=LetterBatch.Status.RENDERING).exists():
            raise ClaimLost
        Letter.objects.bulk_update(letters, ["first_page", "last_page"], batch_size=1000)
        for letter in dropped:
            # Out of the batch, back to waiting, and held with the reason until the contact is changed.
            LetterHold.objects.update_or_create(
                delivery_id=letter.delivery_id,
                defaults={
                    "campaign": campaign,
                    "created": timezone.now(),
                    "reason": f"after layout: no font printed {glyphs.describe(laid.missing[letter.sequence])}"[:500],
                },
            )
        Letter.objects.filter(id__in=[letter.id for letter in dropped]).delete()
        for f in (batch.pdf, batch.archive):
            if f:
                f.delete(save=False)
        batch.pdf.save(f"{stem}.pdf", ContentFile(pdf), save=False)
        batch.archive.save(f"{stem}.zip", ContentFile(archive.getvalue()), save=False)
        LetterBatch.objects.filter(id=batch.id, claim=token).update(
            status=LetterBatch.Status.READY,
            pdf=batch.pdf.name,
            archive=batch.archive.name,
            pages=len(laid.pages),
            sheets=(len(laid.pages) + 1) // 2 if batch.duplex else len(laid.pages),
            rendered=len(letters),
            letters_count=len(letters),
            ready_at=timezone.now(),
            claim="",
        )
    return "ready"


MANIFEST_ADDRESS_LINES = 7


MANIFEST_COLUMNS = (
    ["sequence", "first_page", "last_page", "pages", "sheets", "name"]
    + [f"address_{i}" for i in range(1, MANIFEST_ADDRESS_LINES + 1)]
    + ["country", "postal_code", "gift_sku", "short_code", "zip5", "presort_key"]
)


def presort_fields(country: str, postal_code: str) -> list[str]:
    """[ZIP5, presort key] for the mail house's trays: US mail by its 3-digit ZIP prefix (the SCF, as USPS
    presorts First-Class letters), other countries by country and the postal code's leading part."""
    code = "".join(postal_code.split()).upper()
    if country == "US":
        zip5 = "".join(ch for ch in code if ch.isdigit())[:5]
        return [zip5, f"US-{zip5[:3]}" if len(zip5) == 5 else "US-unsorted"]
    return ["", f"{country}-{code[:2]}" if code else f"{country}-unsorted"]


def manifest_csv(letters: list[Letter], *, duplex: bool) -> str:
    """One row per letter for the mail house; every text cell safe from spreadsheet formulas.

    Sheets tell the mail house which letters need a flat envelope (more than 6 do not fit a #10).
    """
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(MANIFEST_COLUMNS)
    for letter in letters:
        lines = letter.address_lines()
        if len(lines) > MANIFEST_ADDRESS_LINES:
            lines = lines[: MANIFEST_ADDRESS_LINES - 1] + [", ".join(lines[MANIFEST_ADDRESS_LINES - 1 :])]
        lines += [""] * (MANIFEST_ADDRESS_LINES - len(lines))
        pages = letter.last_page - letter.first_page + 1  # the blank back included
        sheets = (pages + 1) // 2 if duplex else pages
        writer.writerow(
            [letter.sequence, letter.first_page, letter.last_page, pages, sheets, csv_safe(letter.name)]
            + [csv_safe(line) for line in lines]
            + [letter.country, csv_safe(letter.postal_code), csv_safe(letter.gift_sku), letter.short_code]
            + presort_fields(letter.country, letter.postal_code)
        )
    return buf.getvalue()


def batch_manifest(*, batch: LetterBatch) -> str:
    return manifest_csv(list(batch.letters.order_by("sequence")), duplex=batch.duplex)


def batch_downloaded(*, batch: LetterBatch, user) -> None:
    """The ZIP went to someone: the first download moves a ready batch on."""
    if batch.status == LetterBatch.Status.READY:
        now = timezone.now()
        if LetterBatch.objects.filter(id=batch.id, status=LetterBatch.Status.READY).update(
            status=LetterBatch.Status.DOWNLOADED, downloaded_at=now
        ):
            batch.status, batch.downloaded_at = LetterBatch.Status.DOWNLOADED, now
            audit_add(batch.campaign, user, "letters downloaded", f"batch {batch.number}")


def batch_mailed(*, batch: LetterBatch, on: date, user) -> None:
    """The mail house posted the batch: its letters are sent and its gift packages left the warehouse."""
    if not batch.can_become(LetterBatch.Status.MAILED):
        raise CampaignError(f"A {batch.get_status_display().lower()} batch cannot be marked mailed.")
    if on > timezone.localdate():
        raise CampaignError("The mailing date cannot be in the future.")
    sent_at = timezone.make_aware(datetime.combine(on, time(12)))
    with transaction.atomic():
        if not LetterBatch.objects.filter(id=batch.id, status=batch.status).update(
            status=LetterBatch.Status.MAILED, mailed_on=on
        ):
            raise CampaignError("Someone else changed this batch at the same moment: reload and try again.")
        Delivery.objects.filter(letter__batch=batch).update(status=Delivery.Status.SENT, sent_at=sent_at, error="")
        skus = Counter(batch.letters.exclude(gift_sku="").values_list("gift_sku", flat=True))
        for package in GiftPackage.objects.select_for_update().filter(sku__in=skus).order_by("id"):
            n = skus[package.sku]
            reservation = GiftReservation.objects.filter(campaign=batch.campaign, package=package).first()
            held = min(n, reservation.quantity) if reservation else 0
            GiftPackage.objects.filter(id=package.id).update(
                stock=Greatest(F("stock") - n, 0), reserved=Greatest(F("reserved") - held, 0)
            )
            gifts.gift_audit(before=package, after=GiftPackage.objects.get(id=package.id))
            if reservation:
                GiftReservation.objects.filter(id=reservation.id).update(quantity=reservation.quantity - held)
        GiftReservation.objects.filter(campaign=batch.campaign, quantity=0).delete()
        batch.status, batch.mailed_on = LetterBatch.Status.MAILED, on
        audit_add(
            batch.campaign, user, "letters mailed", f"batch {batch.number}: {batch.letters_count} letters on {on}"
        )


def batch_retry(*, batch: LetterBatch, user) -> None:
    if not batch.can_become(LetterBatch.Status.RENDERING):
        raise CampaignError("Only a failed batch can be rendered again.")
    if LetterBatch.objects.filter(id=batch.id, status=LetterBatch.Status.FAILED).update(
        status=LetterBatch.Status.RENDERING, claim="", rendered=0, error=""
    ):
        audit_add(batch.campaign, user, "letters rendered again", f"batch {batch.number}")
        transaction.on_commit(lambda: _enqueue_render(batch.id))


def batches_requeue_stale(*, campaign: Campaign | None = None) -> int:
    """Batches whose render never started or whose worker died: queued again (the claim keeps it once)."""
    now = timezone.now()
    stale = LetterBatch.objects.filter(status=LetterBatch.Status.RENDERING).filter(
        Q(claim="", created__lt=now - timedelta(seconds=30)) | Q(claimed_at__lt=now - timedelta(seconds=STALE_SECONDS))
    )
    if campaign is not None:
        stale = stale.filter(campaign=campaign)
    ids = list(stale.values_list("id", flat=True))
    for batch_id in ids:
        _enqueue_render(batch_id)
    return len(ids)


def batches_progress(*, campaign: Campaign) -> dict:
    batches = list(campaign.letter_batches.all())
    rendering = [b for b in batches if b.status == LetterBatch.Status.RENDERING]
    # Progress of the current run: every batch made since the oldest one still rendering.
    since = min((b.created for b in rendering), default=None)
    run = [b for b in batches if since is not None and b.created >= since]
    total = sum(b.letters_count for b in run)
    done = sum(b.rendered if b.status == LetterBatch.Status.RENDERING else b.letters_count for b in run)
    return {
        "finished": not rendering,
        "percent": int(100 * done / total) if total else 100,
        "rendering": len(rendering),
        "letters": total,
        "rendered": done,
        "ready": sum(1 for b in batches if b.status == LetterBatch.Status.READY),
        "failed": sum(1 for b in batches if b.status == LetterBatch.Status.FAILED),
    }


@dataclass
class Export:
    files: list[Path]
    batches: list[LetterBatch]
    held: list[Held]
    busy: list[int]
    preflight: list[preflight.Problem] = field(default_factory=list)


def campaign_export(*, campaign: Campaign, outdir: Path, user=None, size: int | None = None) -> Export:
    """Batch what is waiting, render in this process what no worker has, and copy every batch out."""
    if campaign.status not in STARTED:
        raise CampaignError(f"Letters are printed once sending has started; this campaign is {campaign.status}.")
    held: list[Held] = []
    checked = preflight.letters_preflight(campaign=campaign)
    pending = campaign.deliveries.filter(
        channel=Recipient.Channel.LETTER, status=Delivery.Status.QUEUED, letter__isnull=True
    ).exists()
    if pending:
        held = batches_create(campaign=campaign, user=user, size=size).held
    busy = []
    for batch in campaign.letter_batches.filter(status=LetterBatch.Status.RENDERING):
        if batch_render(batch_id=batch.id) not in ("ready",):
            batch.refresh_from_db()
            if batch.status == LetterBatch.Status.RENDERING:
                busy.append(batch.number)
    outdir.mkdir(parents=True, exist_ok=True)
    files, done = [], []
    for batch in campaign.letter_batches.exclude(
        status__in=[LetterBatch.Status.RENDERING, LetterBatch.Status.FAILED]
    ).order_by("number"):
        stem = batch.file_stem()
        pdf_path, csv_path = outdir / f"{stem}.pdf", outdir / f"{stem}-manifest.csv"
        with batch.pdf.open("rb") as f:
            pdf_path.write_bytes(f.read())
        csv_path.write_text(batch_manifest(batch=batch), encoding="utf-8")
        files += [pdf_path, csv_path]
        batch_downloaded(batch=batch, user=user)
        done.append(batch)
    return Export(files, done, held, busy, checked)
