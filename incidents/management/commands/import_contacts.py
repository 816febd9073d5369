"""The import_contacts command: import a contact list from a file on this machine."""

import os

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from incidents import imports
from incidents.contacts import services as contact_services
from incidents.models import Import


class Command(BaseCommand):
    help = "Import or update contacts (email, names, postal address, language) from a CSV."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")

    def handle(self, *args, **opts) -> None:
        path = opts["file"]
        if not os.path.exists(path):
            raise CommandError(f"Cannot read {path}: no such file")
        with open(path, "rb") as f:
            imp = Import.objects.create(
                kind=Import.Kind.CONTACTS, original_name=os.path.basename(path), bytes_total=os.path.getsize(path)
            )
            imp.file.save(os.path.basename(path), File(f))
        imports.import_run(import_id=imp.id)
        imp.refresh_from_db()
        invalid = contact_services.contacts_invalid_count()
        self.stdout.write(
            f"read {imp.rows_read}, imported {imp.imported}, rejected {imp.rejected}; "
            f"contacts with an invalid address: {invalid}"
        )
        for error in imp.errors[:10]:
            self.stdout.write(f"  line {error['ref']}: {error['reason']}")
        if imp.status == Import.Status.FAILED:
            raise CommandError(imp.message)
