"""Signed links survive a SECRET_KEY rotation, and a link-key rotation while the old key is a fallback."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from apologies import links
from apologies.campaigns import planning
from apologies.tests.factories import IncidentFactory, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def recipient(marketer):
    incident = IncidentFactory()
    person(incident, "jane@example.com")
    return planning.campaign_create(incident=incident, name="x", author=marketer).recipients.get()


def test_it_keeps_printed_links_working_when_secret_key_rotates(settings, recipient):
    settings.AMENDS_LINK_KEY = "long-lived-link-key"
    token = links.sorry_token(recipient)
    unsubscribe, reply, confirm = links.unsubscribe_token(7), links.reply_address(7), links.confirm_token(3)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-brand-new-secret-key", []
    assert links.sorry_recipient_id(token) == recipient.id
    assert links.delivery_from_unsubscribe_token(unsubscribe) == 7
    assert links.delivery_from_reply_address(reply) == 7
    assert links.consent_from_confirm_token(confirm) == 3


def test_it_accepts_old_links_while_the_old_link_key_is_a_fallback(settings, recipient):
    settings.AMENDS_LINK_KEY = "link-key-2025"
    token = links.sorry_token(recipient)
    settings.AMENDS_LINK_KEY, settings.AMENDS_LINK_KEY_FALLBACKS = "link-key-2026", ["link-key-2025"]
    assert links.sorry_recipient_id(token) == recipient.id
    settings.AMENDS_LINK_KEY_FALLBACKS = []
    assert links.sorry_recipient_id(token) is None


def test_it_warns_on_deploy_when_links_are_signed_with_the_secret_key(settings):
    settings.AMENDS_LINK_KEY = settings.SECRET_KEY
    with pytest.raises(SystemCheckError, match="amends.W001"):
        call_command("check", "--deploy", "--fail-level", "WARNING", "--tag", "security")
