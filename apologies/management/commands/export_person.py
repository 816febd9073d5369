"""export_person EMAIL: everything held about one person as JSON (GDPR Art. 15), to stdout or a file."""

from django.core.management.base import BaseCommand, CommandError

from apologies.privacy import services


class Command(BaseCommand):
    help = "Print (or write with --output) everything Amends holds about one email address, as JSON."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--output", "-o", help="Write to this file instead of stdout.")

    def handle(self, *args, email: str, output: str | None = None, **options):
        if "@" not in email:
            raise CommandError("Give an email address.")
        body = services.person_export_json(email=email)
        if output:
            with open(output, "w", encoding="utf-8") as f:
                f.write(body)
            self.stderr.write(f"Wrote {output}")
        else:
            self.stdout.write(body)
