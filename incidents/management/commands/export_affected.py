"""The export_affected command: an incident's ledger as CSV or JSON on stdout."""

import json

from django.core.management.base import BaseCommand, CommandError

from incidents import ledger
from incidents.auditlog.services import audit_record
from incidents.models import Incident


class Command(BaseCommand):
    help = "Print an incident's affected people as CSV or JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("incident_id", type=int)
        parser.add_argument("--format", default="csv", choices=["csv", "json"])

    def handle(self, *args, **opts) -> None:
        incident = Incident.objects.filter(id=opts["incident_id"]).first()
        if incident is None:
            raise CommandError(f"No incident with id {opts['incident_id']}.")
        audit_record(
            user=None, action="export.affected_command", target=f"incident {incident.id}", detail=opts["format"]
        )
        if opts["format"] == "csv":
            for chunk in ledger.ledger_export_csv(incident=incident):
                self.stdout.write(chunk, ending="")
        else:
            self.stdout.write(json.dumps(list(ledger.ledger_rows(incident=incident)), indent=1))
