"""The import_sendlog command: import an ESP send log from a file on this machine."""

from django.core.management.base import BaseCommand, CommandError

from incidents import imports, sendlogs
from incidents.models import Import, Incident


class Command(BaseCommand):
    help = "Import an ESP send/event log into an incident and print a summary."

    def add_arguments(self, parser) -> None:
        parser.add_argument("incident_id", type=int)
        parser.add_argument("file")
        parser.add_argument("--format", default="auto", choices=["auto", *sendlogs.FORMATS])
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help="for a generic CSV: recipient, time, message_id, workflow, event",
        )
        parser.add_argument("--delimiter", default="")
        parser.add_argument("--date-format", default="")

    def handle(self, *args, **opts) -> None:
        incident = Incident.objects.filter(id=opts["incident_id"]).first()
        if incident is None:
            raise CommandError(f"No incident with id {opts['incident_id']}.")
        mapping = {}
        for item in opts["map"]:
            field, sep, column = item.partition("=")
            if not sep or field not in ("recipient", "time", "message_id", "workflow", "event"):
                raise CommandError(
                    f"--map {item!r}: use FIELD=COLUMN with FIELD one of recipient, time, message_id, workflow, event"
                )
            mapping[field] = column
        delimiter = opts["delimiter"].replace("\\t", "\t")
        try:
            imp = imports.import_local(
                incident=incident,
                path=opts["file"],
                fmt=opts["format"],
                mapping=mapping,
                delimiter=delimiter,
                date_format=opts["date_format"],
            )
        except OSError as e:
            raise CommandError(f"Cannot read {opts['file']}: {e.strerror}") from None
        self.stdout.write(
            f"read {imp.rows_read}, imported {imp.imported}, duplicates {imp.duplicates}, rejected {imp.rejected}"
            f" ({sendlogs.FORMAT_LABELS.get(imp.format, imp.format or 'unknown format')})"
        )
        for error in imp.errors[:10]:
            self.stdout.write(f"  record {error['ref']}: {error['reason']}")
        if imp.rejected > 10:
            self.stdout.write(f"  ... and {imp.rejected - 10} more rejected")
        if imp.status == Import.Status.FAILED:
            raise CommandError(imp.message)
        stats = imp.incident.ledger_stats
        self.stdout.write(f"ledger: {stats.get('people', 0)} people, {stats.get('messages', 0)} messages")
