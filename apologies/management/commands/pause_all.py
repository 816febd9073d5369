"""`python manage.py pause_all --reason "…"`: the emergency stop for every campaign that is sending."""

from django.core.management.base import BaseCommand, CommandError

from apologies.sending import services as sending


class Command(BaseCommand):
    help = "Pause every campaign that is sending, at once, with the reason shown on each campaign's page."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--reason", required=True, help="Why: shown on every paused campaign and in its audit.")

    def handle(self, *args, reason: str, **options) -> None:
        if not reason.strip():
            raise CommandError("Say why: the reason is shown to everyone who opens a paused campaign.")
        paused = sending.campaigns_pause_all(reason=reason.strip())
        self.stdout.write(f"Paused {len(paused)} campaign(s): {', '.join(map(str, paused)) or 'none was sending'}.")
