"""Demo users and a runaway-workflow incident, so a newcomer sees the product working at once."""

import gzip
import os
import random
import tempfile
from datetime import UTC, datetime, timedelta

import orjson
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError

from apologies.campaigns.lifecycle import template_add, template_save
from apologies.campaigns.models import CampaignTemplate
from apologies.campaigns.planning import campaign_create
from apologies.letters.layout import letter_settings_save
from incidents import imports, ledger, services
from incidents.contacts import services as contact_services
from incidents.contacts.suppressions import suppression_add_many
from incidents.models import Contact, Incident, Suppression

DEMO_PASSWORD = "amends-demo"
DEMO_USERS = [
    ("marketer", "marketer", "Maya Marketer"),
    ("marketer2", "marketer", "Marc Marketer"),
    ("approver", "approver", "Ana Approver"),
    ("viewer", "viewer", "Victor Viewer"),
]
DEMO_TITLE = "Trial nurture workflow v2 looped"
# The incident's words are English: each language variant says them in its own (or it could not be submitted).
DEMO_WORDS = {
    "fr": (
        "Une modification du parcours d’accueil des essais y faisait revenir chaque utilisateur à chaque étape : "
        "vous avez reçu le même courriel encore et encore, jusqu’à 25 en dix minutes, et quelques utilisateurs de "
        "longue date en ont reçu des centaines avant que nous l’arrêtions.",
        "Nous changeons notre façon de modifier les parcours : une deuxième personne relit chaque changement, et "
        "chaque parcours a un plafond strict de messages par personne et par jour.",
    ),
    "de": (
        "Eine Änderung am Willkommens-Workflow für Testkonten hat jede Person bei jedem Schritt erneut aufgenommen: "
        "Sie haben dieselbe E-Mail immer wieder erhalten, bis zu 25 in zehn Minuten, und einige langjährige "
        "Testnutzer Hunderte, bevor wir ihn gestoppt haben.",
        "Wir ändern, wie wir Workflows aktualisieren: Eine zweite Person prüft jede Änderung, und jeder Workflow "
        "hat eine feste Obergrenze an Nachrichten pro Person und Tag.",
    ),
    "es": (
        "Un cambio en el flujo de bienvenida de la prueba hacía que cada usuario volviera a entrar en cada paso: "
        "recibiste el mismo correo una y otra vez, hasta 25 en diez minutos, y algunos usuarios antiguos "
        "recibieron cientos antes de que lo detuviéramos.",
        "Estamos cambiando cómo gestionamos los cambios en los flujos: una segunda persona revisa cada cambio y "
        "cada flujo tiene un límite estricto de mensajes por persona y día.",
    ),
}
# A whole address: the letters are only printed once sending starts, when the settings can no longer change.
DEMO_RETURN_ADDRESS = "Amends Inc.\n500 Market St\nSan Francisco, CA 94105"
WORKFLOW = "trial-nurture-v2"

FIRST = [
    "Zoë",
    "Łukasz",
    "Søren",
    "Amélie",
    "José",
    "Siobhán",
    "Chloé",
    "Jürgen",
    "María",
    "Noah",
    "Olivia",
    "Liam",
    "Emma",
    "Ava",
    "Ethan",
    "Mia",
    "Lucas",
    "Sophia",
    "Mason",
    "Harper",
    "O'Brien",
    "Renée",
    "Björn",
    "Ines",
]
LAST = [
    "Smith",
    "Müller",
    "García",
    "O'Neill",
    "Nørgaard",
    "Kowalski",
    "Dubois",
    "Rossi",
    "Johnson",
    "Brown",
    "Lee",
    "Martin",
    "Wilson",
    "Taylor",
    "Anderson",
    "Thomas",
    "Moore",
    "Jackson",
    "White",
    "Harris",
    "<b>Bold</b>",
]
ADDRESSES = [
    ("US", "en", "{n} Main St", "Springfield", "IL", "62704"),
    ("US", "en", "{n} Market Street", "San Francisco", "CA", "94103"),
    ("US", "en", "{n} Broadway", "New York", "NY", "10007"),
    ("US", "en", "{n} Elm Ave", "Austin", "TX", "78701"),
    ("GB", "en", "{n} Baker Street", "London", "", "NW1 6XE"),
    ("DE", "de", "Invalidenstraße {n}", "Berlin", "", "10115"),
    ("FR", "fr", "{n} rue de Rivoli", "Paris", "", "75001"),
    ("ES", "es", "Calle Mayor {n}", "Madrid", "Madrid", "28013"),
    ("DK", "da", "Strøget {n}", "København K", "", "1160"),
]


class Command(BaseCommand):
    help = "Create demo users and a demo incident (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--people", type=int, default=3000)
        parser.add_argument("--force", action="store_true", help="also when DEBUG is off")

    def handle(self, *args, **opts) -> None:
        if not settings.DEBUG and not opts["force"]:
            raise CommandError("Demo users have a published password: not with DEBUG off (use --force).")
        for username, role, name in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                first, last = name.split()
                user.first_name, user.last_name = first, last
                user.email = f"{username}@amends.localhost"
                user.set_password(DEMO_PASSWORD)
                user.save()
            user.groups.set([Group.objects.get(name=role)])
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@amends.localhost", DEMO_PASSWORD)

        if Incident.objects.filter(title=DEMO_TITLE).exists():
            self.stdout.write("Demo data is already there.")
            return
        rng = random.Random(2026)
        start = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
        people = [f"user{i:05d}@example.com" for i in range(opts["people"])]
        self._contacts(rng, people)
        incident = services.incident_create(
            title=DEMO_TITLE,
            started_at=start,
            ended_at=start + timedelta(hours=3),
            workflows=[WORKFLOW],
            owner=User.objects.get(username="marketer"),
            what_happened=(
                "A change to the trial nurture workflow made it re-enter every trial user on each step: "
                "people got the same onboarding email again and again, up to 25 in ten minutes, and a few "
                "long-time trial users got hundreds before we stopped it."
            ),
            root_cause="The workflow update was published without a re-entry limit.",
            fix="We're changing how we manage workflow updates: a second person reviews every change and "
            "each workflow has a hard cap of messages per person per day.",
            status=Incident.Status.CONTAINED,
        )
        path = self._sendlog(rng, people, start)
        try:
            imp = imports.import_local(incident=incident, path=path)
        finally:
            os.unlink(path)
            os.rmdir(os.path.dirname(path))
        suppression_add_many(
            entries=[Suppression(email=e, reason=Suppression.Reason.UNSUBSCRIBED) for e in people[-40:]],
            source="ESP export (demo)",
        )
        ledger.ledger_compute(incident=incident)
        marketer = User.objects.get(username="marketer")
        campaign = campaign_create(
            incident=incident,
            name="Our apology",
            author=marketer,
            gift_tiers=[3],
            seed_list="marketer@amends.localhost",
        )
        letter_settings_save(campaign=campaign, values={"return_address": DEMO_RETURN_ADDRESS}, user=marketer)
        # The demo's French, German and Spanish readers get their own words (each starts from the catalogue's).
        for language, (what_happened, the_fix) in DEMO_WORDS.items():
            variant = template_add(campaign=campaign, language=language, tier=CampaignTemplate.ANY_TIER, user=marketer)
            variant.what_happened, variant.the_fix = what_happened, the_fix
            template_save(template=variant, user=marketer)
        self.stdout.write(
            f"Demo incident {incident.id}: {imp.imported} events, {incident.ledger_stats['people']} people hit."
        )

    def _contacts(self, rng: random.Random, people: list[str]) -> None:
        contacts = []
        for i, email in enumerate(people):
            country, lang, street, city, region, postal = rng.choice(ADDRESSES)
            c = Contact(
                email=email,
                first_name=rng.choice(FIRST) if i % 17 else "",
                last_name=rng.choice(LAST),
                address_line1=street.format(n=rng.randint(1, 400)) if i % 23 else "",
                city=city,
                region=region,
                postal_code=postal if i % 41 else "000",
                country=country,
                language=lang,
            )
            contact_services.contact_check(contact=c)
            contacts.append(c)
        Contact.objects.bulk_create(contacts, ignore_conflicts=True)

    def _sendlog(self, rng: random.Random, people: list[str], start: datetime) -> str:
        """A SendGrid Event Webhook log (one JSON object per line, gzip) with a burst of repeats."""
        path = os.path.join(tempfile.mkdtemp(), "sendgrid-events-2026-11-20.json.gz")
        n = 0
        with gzip.open(path, "wb") as out:
            for i, email in enumerate(people):
                roll = rng.random()
                if roll < 0.55:
                    count = rng.randint(1, 3)
                elif roll < 0.85:
                    count = rng.randint(4, 25)
                elif roll < 0.98:
                    count = rng.randint(26, 80)
                else:
                    count = rng.randint(150, 400)
                t = start + timedelta(seconds=rng.randint(0, 1800))
                raw = email.upper() if i % 50 == 0 else email
                for m in range(count):
                    t += timedelta(seconds=rng.choice([8, 15, 20, 24, 30, 45]))
                    mid = f"dm{i:05d}x{m:04d}"
                    base = {
                        "email": raw,
                        "sg_message_id": f"{mid}.filter0001p1las1-1-1-1",
                        "category": [WORKFLOW, "trial"],
                        "marketing_campaign_id": 4242,
                        "marketing_campaign_name": "Trial nurture",
                    }
                    for event, delay in (("processed", 0), ("delivered", 2)):
                        n += 1
                        line = dict(
                            base,
                            event=event,
                            timestamp=int((t + timedelta(seconds=delay)).timestamp()),
                            sg_event_id=f"ev{n}",
                        )
                        out.write(orjson.dumps(line) + b"\n")
                    if rng.random() < 0.2:
                        n += 1
                        line = dict(base, event="open", timestamp=int(t.timestamp()) + 60, sg_event_id=f"ev{n}")
                        out.write(orjson.dumps(line) + b"\n")
                after = int((t + timedelta(minutes=5)).timestamp())
                extra = rng.random()
                if extra < 0.18 + min(count, 100) / 400:
                    n += 1
                    out.write(
                        orjson.dumps(
                            {
                                "email": raw,
                                "event": "unsubscribe",
                                "timestamp": after,
                                "sg_event_id": f"ev{n}",
                                "sg_message_id": f"dm{i:05d}x0000.filter1",
                                "category": WORKFLOW,
                            }
                        )
                        + b"\n"
                    )
                elif extra < 0.30:
                    n += 1
                    out.write(
                        orjson.dumps(
                            {
                                "email": raw,
                                "event": "spamreport",
                                "timestamp": after,
                                "sg_event_id": f"ev{n}",
                                "sg_message_id": f"dm{i:05d}x0000.filter1",
                                "category": WORKFLOW,
                            }
                        )
                        + b"\n"
                    )
                elif extra < 0.33:
                    n += 1
                    out.write(
                        orjson.dumps(
                            {
                                "email": raw,
                                "event": "bounce",
                                "type": "bounce",
                                "reason": "550 5.1.1 mailbox unavailable",
                                "timestamp": after,
                                "sg_event_id": f"ev{n}",
                                "sg_message_id": f"dm{i:05d}x0000.filter1",
                                "category": WORKFLOW,
                            }
                        )
                        + b"\n"
                    )
            # A record with no address, to show how rejects are reported.
            out.write(
                orjson.dumps({"event": "processed", "timestamp": int(start.timestamp()), "sg_event_id": "broken-1"})
                + b"\n"
            )
        return path
