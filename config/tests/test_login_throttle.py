"""Login throttling: after five wrong passwords even the right one is refused, on /login/ and /admin/login/."""

import pytest
from django.contrib.auth.models import User

PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff(db):
    return User.objects.create_user("sam", "sam@example.org", PASSWORD, is_staff=True, is_superuser=True)


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_it_locks_out_the_sixth_attempt_even_with_the_right_password(client, staff, url, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    statuses = [client.post(url, {"username": "sam", "password": "wrong"}).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # the form again four times; the fifth failure locks
    response = client.post(url, {"username": "sam", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed log-ins" in response.content
    assert b"Even the right password is refused" in response.content
    assert "_auth_user_id" not in client.session


def test_it_lets_the_right_password_in_before_the_limit(client, staff):
    for _ in range(4):
        client.post("/login/", {"username": "sam", "password": "wrong"})
    response = client.post("/login/", {"username": "sam", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)


def test_it_locks_the_username_from_another_address_too(client, staff):
    for i in range(5):
        client.post("/login/", {"username": "sam", "password": "wrong"}, REMOTE_ADDR=f"198.51.100.{i}")
    response = client.post("/login/", {"username": "sam", "password": PASSWORD}, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 429


def test_it_counts_visitors_behind_the_proxy_apart(client, staff, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(5):
        client.post("/login/", {"username": "x", "password": "wrong"}, HTTP_X_FORWARDED_FOR="198.51.100.7")
    locked = client.post("/login/", {"username": "y", "password": "wrong"}, HTTP_X_FORWARDED_FOR="198.51.100.7")
    other = client.post("/login/", {"username": "sam", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert locked.status_code == 429
    assert other.status_code == 302
