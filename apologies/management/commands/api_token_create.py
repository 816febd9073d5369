"""`python manage.py api_token_create USERNAME NAME`: a new API token acting as that user, printed once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apologies.api.tokens import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a user; the token carries the user's role. The secret is shown only now."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("name", help="What will use the token, e.g. 'data warehouse'.")

    def handle(self, *args, username: str, name: str, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        _token, raw = api_token_create(user=user, name=name)
        self.stdout.write(raw)
