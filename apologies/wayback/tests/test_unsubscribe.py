from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from apologies import links
from apologies.campaigns import planning
from apologies.models import Delivery
from apologies.sending import esp
from apologies.sending import services as sending
from apologies.tests.factories import IncidentFactory, person
from incidents.models import Suppression

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery(marketer):
    incident = IncidentFactory()
    person(incident, "jane@example.com")
    campaign = planning.campaign_create(incident=incident, name="x", author=marketer)
    sending.deliveries_create(campaign=campaign)
    return Delivery.objects.get()


def test_it_unsubscribes_at_once_on_the_one_click_post_without_cookies(delivery):
    client = Client(enforce_csrf_checks=True)
    url = esp.headers_for(delivery.id)["List-Unsubscribe"].split(">")[0].lstrip("<")
    path = urlsplit(url).path
    response = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "j***@example.com" in response.content.decode()
    assert Suppression.objects.filter(email="jane@example.com", reason="unsubscribed").exists()


def test_it_shows_a_confirm_page_on_get_and_changes_nothing(delivery):
    token = links.unsubscribe_token(delivery.id)
    response = Client().get(reverse("unsubscribe", args=[token]))
    assert response.status_code == 200
    assert "Yes, unsubscribe me" in response.content.decode()
    assert not Suppression.objects.exists()


def test_it_refuses_a_tampered_link_with_a_page(delivery):
    token = links.unsubscribe_token(delivery.id)
    response = Client().post(reverse("unsubscribe", args=[token[:-2] + "xx"]))
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    assert not Suppression.objects.exists()


def test_it_answers_the_button_with_a_redirect_and_shows_the_state(delivery):
    token = links.unsubscribe_token(delivery.id)
    client = Client()
    response = client.post(reverse("unsubscribe", args=[token]))
    assert response.status_code == 303
    html = client.get(response["Location"]).content.decode()
    assert "You are unsubscribed" in html and "Yes, unsubscribe me" not in html


def test_it_wears_the_campaign_brand_on_the_unsubscribe_page(delivery):
    campaign = delivery.campaign
    campaign.brand_name, campaign.brand_color = "The MINI USA team", "#ffd200"
    campaign.save()
    html = Client().get(reverse("unsubscribe", args=[links.unsubscribe_token(delivery.id)])).content.decode()
    assert "<title>Unsubscribe · The MINI USA team</title>" in html
    assert "/brand/ffd200.css" in html
    css = Client().get("/brand/ffd200.css").content.decode()
    assert "--accent: #ffd200" in css and "--on-accent: #000000" in css  # dark text on a light brand colour
