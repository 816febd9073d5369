import json

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from apologies.campaigns import planning
from apologies.models import Campaign


class Command(BaseCommand):
    help = "Print a campaign's counts per channel, reason and delivery status as JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("campaign_id", type=int)

    def handle(self, *args, **opts) -> None:
        campaign = Campaign.objects.filter(id=opts["campaign_id"]).first()
        if campaign is None:
            raise CommandError(f"No campaign with id {opts['campaign_id']}.")
        counts = planning.campaign_counts(campaign=campaign)
        deliveries: dict[str, dict[str, int]] = {}
        for row in campaign.deliveries.values("channel", "status").annotate(n=Count("id")).order_by():
            deliveries.setdefault(row["channel"], {})[row["status"]] = row["n"]
        out = {
            "campaign": campaign.id,
            "name": campaign.name,
            "status": campaign.status,
            "people": counts["total"],
            "channels": counts["by_channel"],
            "reasons": {f"{r['channel']}:{r['reason']}": r["n"] for r in counts["by_reason"]},
            "deliveries": deliveries,
            "estimated_cost": str(counts["cost"]),
        }
        self.stdout.write(json.dumps(out, indent=2))
