"""The create_incident command: log an incident from the shell."""

from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from incidents import services


def aware(value: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"{value!r} is not an ISO 8601 time, e.g. 2026-11-20T09:00:00Z") from None
    return dt if timezone.is_aware(dt) else dt.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Log an incident and print its id."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--title", required=True)
        parser.add_argument("--start", required=True, help="ISO 8601; naive times are UTC")
        parser.add_argument("--end", help="ISO 8601; leave out while the incident is ongoing")
        parser.add_argument("--workflow", action="append", default=[], help="faulty workflow/campaign id; repeat")
        parser.add_argument("--what-happened", default="")

    def handle(self, *args, **opts) -> None:
        try:
            incident = services.incident_create(
                title=opts["title"],
                started_at=aware(opts["start"]),
                ended_at=aware(opts["end"]) if opts["end"] else None,
                workflows=opts["workflow"],
                what_happened=opts["what_happened"],
            )
        except ValidationError as e:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in e.message_dict.items())) from None
        self.stdout.write(str(incident.id))
