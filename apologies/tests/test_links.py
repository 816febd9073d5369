"""Signed links: the site URL they are made from, and key rotations that void none of them."""

import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from apologies import links
from apologies.campaigns import planning
from apologies.links import site_url_problem
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


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "SITE_URL is not set"),
        ("http://sorry.example.com", "is not https"),
        ("https://127.0.0.1:8000", "loopback"),
        ("https://localhost", "loopback"),
        ("https://[::1]/", "loopback"),
        ("https://sorry.example.com", ""),
    ],
)
def test_it_refuses_a_site_url_nobody_outside_could_open(settings, url, problem):
    settings.DEBUG, settings.AMENDS_SITE_URL_CHECK, settings.SITE_URL = False, True, url
    found = site_url_problem()
    assert (problem in found) if problem else found == ""


def test_it_lets_development_use_the_served_address(settings):
    settings.DEBUG, settings.SITE_URL = True, "http://127.0.0.1:8101"
    assert site_url_problem() == ""


@pytest.mark.parametrize(
    ("env", "argv", "expected"),
    [
        ({"PORT": "8101"}, [], "http://127.0.0.1:8101"),
        ({}, ["manage.py", "runserver", "8102"], "http://127.0.0.1:8102"),
        ({}, ["manage.py", "runserver", "127.0.0.1:8103", "--noreload"], "http://127.0.0.1:8103"),
    ],
)
def test_it_follows_the_served_port_in_development(env, argv, expected):
    code = f"import sys; sys.argv = {argv!r}; import config.settings as s; print(s.SITE_URL)"
    clean = {"PATH": "/usr/bin:/bin", "DEBUG": "true", "PYTHONPATH": ".", **env}
    out = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


def test_it_refuses_to_start_a_send_while_the_site_url_is_wrong(settings, marketer, approver):
    from apologies.campaigns import lifecycle, planning
    from apologies.campaigns.models import CampaignError
    from apologies.sending import services as sending
    from apologies.tests.factories import IncidentFactory, person

    incident = IncidentFactory()
    person(incident, "sam@example.com")
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    lifecycle.campaign_submit(campaign=campaign, user=marketer)
    lifecycle.campaign_approve(campaign=campaign, user=approver)
    settings.DEBUG, settings.AMENDS_SITE_URL_CHECK, settings.SITE_URL = False, True, "http://127.0.0.1:8000"
    with pytest.raises(CampaignError, match="Sending cannot start: SITE_URL http://127.0.0.1:8000 is not https"):
        sending.campaign_start(campaign=campaign, user=approver)
    assert campaign.deliveries.count() == 0
