from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apologies.campaigns import planning
from incidents.models import Incident


class Command(BaseCommand):
    help = "Create a campaign for the whole ledger with the default words and print its id."

    def add_arguments(self, parser) -> None:
        parser.add_argument("incident_id", type=int)
        parser.add_argument("--name", required=True)
        parser.add_argument("--author", help="username (default: the incident's owner, else the first superuser)")

    def handle(self, *args, **opts) -> None:
        incident = Incident.objects.filter(id=opts["incident_id"]).first()
        if incident is None:
            raise CommandError(f"No incident with id {opts['incident_id']}.")
        users = get_user_model().objects
        if opts["author"]:
            author = users.filter(username=opts["author"]).first()
            if author is None:
                raise CommandError(f"No user {opts['author']!r}.")
        else:
            author = incident.owner or users.filter(is_superuser=True).order_by("id").first()
            if author is None:
                raise CommandError("Name an --author: the incident has no owner and there is no superuser.")
        campaign = planning.campaign_create(incident=incident, name=opts["name"], author=author)
        self.stdout.write(str(campaign.id))
