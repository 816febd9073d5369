"""Enrolling, verifying and removing a staff member's TOTP device; who may and who must use one."""

from __future__ import annotations

import segno
from django.conf import settings
from django.db import transaction
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

# Two-factor is offered to these roles (and superusers): the people who can approve, send or erase.
OFFERED_ROLES = {"admin", "approver"}


def user_roles(user) -> set[str]:
    roles = set(user.groups.values_list("name", flat=True))
    return roles | {"admin"} if user.is_superuser else roles


def twofactor_offered(user) -> bool:
    return user.is_authenticated and bool(user_roles(user) & (OFFERED_ROLES | set(settings.TWO_FACTOR_REQUIRED_ROLES)))


def twofactor_required(user) -> bool:
    return user.is_authenticated and bool(user_roles(user) & set(settings.TWO_FACTOR_REQUIRED_ROLES))


def totp_device(user, *, confirmed: bool | None = None) -> TOTPDevice | None:
    devices = TOTPDevice.objects.filter(user=user)
    if confirmed is not None:
        devices = devices.filter(confirmed=confirmed)
    return devices.order_by("-id").first()


def totp_device_start(*, user) -> TOTPDevice:
    """A new, unconfirmed device (replacing an earlier unconfirmed one): its key goes into the phone's app."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def totp_qr_svg(device: TOTPDevice) -> str:
    return segno.make(device.config_url, error="m").svg_data_uri(scale=4)


def totp_device_confirm(*, request, device: TOTPDevice, token: str) -> bool:
    """The first right code confirms the device and verifies this session; other devices of the user go."""
    if not device.verify_token(token.strip().replace(" ", "")):
        return False
    with transaction.atomic():
        TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    otp_login(request, device)
    return True


def totp_verify(*, request, token: str) -> bool:
    device = totp_device(request.user, confirmed=True)
    if device is None or not device.verify_token(token.strip().replace(" ", "")):
        return False
    otp_login(request, device)
    return True


def totp_device_remove(*, user) -> int:
    return TOTPDevice.objects.filter(user=user).delete()[0]
