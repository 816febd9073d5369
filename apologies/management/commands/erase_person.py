"""erase_person EMAIL: erase one person from every table and stored file, keeping only a hash (GDPR Art. 17)."""

from django.core.management.base import BaseCommand, CommandError

from apologies.privacy import services


class Command(BaseCommand):
    help = "Erase one email address everywhere; only a peppered hash stays so the person is never emailed again."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--reason", default="", help="The request's reference, kept in the erasure record.")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, email: str, reason: str, yes: bool, **options):
        if "@" not in email:
            raise CommandError("Give an email address.")
        if not yes and input(f"Erase {email} for good? Type 'erase' to go on: ").strip() != "erase":
            raise CommandError("Nothing was erased.")
        erasure = services.person_erase(email=email, reason=reason)
        touched = ", ".join(f"{k}: {v}" for k, v in erasure.counts.items() if v) or "nothing held"
        self.stdout.write(f"Erased (erasure {erasure.id}, hash {erasure.email_hash[:12]}): {touched}")
