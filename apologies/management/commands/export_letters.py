"""Batch a campaign's waiting letters, render them here, and write every batch's PDF and manifest to a folder."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apologies.campaigns import models as campaigns_models
from apologies.letters import checks
from apologies.letters import services as letter_batches
from apologies.models import Campaign


class Command(BaseCommand):
    help = "Write each letter batch of a campaign as PDF + manifest CSV into OUTDIR (batching what is waiting)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("outdir", type=Path)
        parser.add_argument("--batch-size", type=int, default=None, help="Letters per batch (default: the campaign's)")

    def handle(self, *args, campaign_id: int, outdir: Path, batch_size: int | None, **options) -> None:
        campaign = Campaign.objects.select_related("incident").filter(id=campaign_id).first()
        if campaign is None:
            raise CommandError(f"No campaign {campaign_id}.")
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        checks.fonts_warn()
        try:
            export = letter_batches.campaign_export(campaign=campaign, outdir=outdir, size=batch_size)
        except campaigns_models.CampaignError as e:
            raise CommandError(str(e)) from e
        for problem in export.preflight:
            self.stderr.write(f"preflight: {'must fix' if problem.blocks else 'check'}: {problem.message}")
        for batch in export.batches:
            self.stdout.write(
                f"batch {batch.number}: {batch.letters_count} letters, {batch.pages} pages, {batch.sheets} sheets "
                f"-> {outdir / batch.file_stem()}.pdf"
            )
        for held in export.held:
            self.stderr.write(f"held out: {held.recipient.email}: {held.reason}")
        if export.busy:
            self.stderr.write(f"still rendering on a worker, run again later: batches {export.busy}")
        if not export.batches:
            self.stderr.write("no letters to export")
