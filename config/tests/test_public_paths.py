"""Public pages take the short way past the staff-only middleware, and lose nothing a public page needs."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from apologies import links
from apologies.campaigns import planning
from apologies.tests.factories import IncidentFactory, contact, person
from config import public_paths

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def letter(marketer):
    incident = IncidentFactory()
    person(incident, "ana@example.com", state="unsubscribed")
    contact("ana@example.com")
    campaign = planning.campaign_create(incident=incident, name="Sorry", author=marketer)
    return campaign.recipients.get()


def test_it_serves_a_public_page_without_the_staff_middleware(client, letter, monkeypatch):
    calls = []
    real = public_paths.PublicPathMiddleware.__call__

    def spy(self, request):
        response = real(self, request)
        calls.append(hasattr(request, "session") or hasattr(request, "user"))
        return response

    monkeypatch.setattr(public_paths.PublicPathMiddleware, "__call__", spy)
    response = client.get(reverse("sorry_person", args=[links.sorry_token(letter, via=links.VIA_LINK)]))
    assert response.status_code == 200
    assert calls == [False]  # no session, no user: the rest of the chain never ran
    assert response["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in response  # set before the short way
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies

    calls.clear()
    assert client.get(reverse("incidents:list")).status_code == 302  # staff pages: the whole chain
    assert calls == [True]


def test_it_keeps_the_wrong_code_limit_on_the_short_way(settings):
    settings.AMENDS_CODE_TRIES = 3
    browser = Client()
    answers = [browser.post(reverse("sorry"), {"code": f"WRNG-C0D{i}"}).status_code for i in range(5)]
    assert 429 not in answers[:3] and answers[3:] == [429, 429]  # a wrong code is answered with the form again


def test_it_sends_a_view_that_wants_csrf_the_long_way(rf, settings):
    seen = []
    middleware = public_paths.PublicPathMiddleware(lambda request: seen.append(request.path) or None)
    # The brand stylesheet is public but not csrf_exempt: it takes the whole chain.
    middleware(rf.get(reverse("brand_css", args=["ffd200"])))
    assert seen == [reverse("brand_css", args=["ffd200"])]
