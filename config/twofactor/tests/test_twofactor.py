"""Two-factor sign-in: set up with a real TOTP code, then every page waits for a code after the password."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

PASSWORD = "pw-Amends-1"


def code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def fresh(device: TOTPDevice) -> TOTPDevice:
    """Forget the throttle after a wrong code and the last code used, so the current code is accepted again."""
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.last_t = -1
    device.save()
    return device


@pytest.fixture
def approver_with_password(approver):
    approver.set_password(PASSWORD)
    approver.save()
    return approver


def log_in(username: str) -> Client:
    client = Client()
    assert client.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def test_it_sets_up_a_device_and_then_asks_for_a_code_at_every_sign_in(approver_with_password):
    client = log_in("ana")
    assert client.get("/incidents/").status_code == 200  # optional until set up
    page = client.get("/account/2fa/")
    assert b"Set up an authenticator app" in page.content
    assert not TOTPDevice.objects.exists()  # a GET creates nothing
    client.post("/account/2fa/", {"step": "start"})
    device = TOTPDevice.objects.get(user=approver_with_password, confirmed=False)
    assert b"data:image/svg+xml" in client.get("/account/2fa/").content
    wrong = "000000" if code(device) != "000000" else "111111"
    assert client.post("/account/2fa/", {"token": wrong}).status_code == 400
    fresh(device)
    assert client.post("/account/2fa/", {"token": code(device)}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed

    again = log_in("ana")
    response = again.get("/incidents/")
    assert response.status_code == 302 and response["Location"].startswith("/account/2fa/verify/?next=")
    assert again.get("/audit/").status_code == 302
    assert again.post("/account/2fa/verify/", {"token": "12345", "next": "/incidents/"}).status_code == 400
    fresh(device)
    done = again.post("/account/2fa/verify/", {"token": code(device), "next": "/incidents/"})
    assert done.status_code == 302 and done["Location"] == "/incidents/"
    assert again.get("/incidents/").status_code == 200


def test_it_does_not_follow_a_next_to_another_site(approver_with_password):
    client = log_in("ana")
    client.post("/account/2fa/", {"step": "start"})
    device = TOTPDevice.objects.get()
    client.post("/account/2fa/", {"token": code(device)})
    fresh(device)
    other = log_in("ana")
    response = other.post("/account/2fa/verify/", {"token": code(device), "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_it_forces_setup_on_required_roles(approver_with_password, settings):
    settings.TWO_FACTOR_REQUIRED_ROLES = ["approver"]
    client = log_in("ana")
    response = client.get("/incidents/")
    assert response.status_code == 302 and response["Location"] == "/account/2fa/"


def test_it_is_offered_to_admins_and_approvers_only(marketer_client, db):
    assert marketer_client.get("/account/2fa/").status_code == 403
    admin = Client()
    admin.force_login(User.objects.create_superuser("root", "root@example.org", PASSWORD))
    assert admin.get("/account/2fa/").status_code == 200


def test_it_guards_the_admin_site_too(approver_with_password):
    User.objects.create_superuser("root", "root@example.org", PASSWORD)
    client = log_in("root")
    client.post("/account/2fa/", {"step": "start"})
    device = TOTPDevice.objects.get()
    client.post("/account/2fa/", {"token": code(device)})
    again = Client()
    again.post("/admin/login/", {"username": "root", "password": PASSWORD})
    response = again.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/account/2fa/verify/")
