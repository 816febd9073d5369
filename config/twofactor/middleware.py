"""Sends a signed-in staff member to the code page until this session is verified, if they have or need a device."""

from __future__ import annotations

from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from .services import totp_device, twofactor_required

# Pages a half-signed-in person may still reach: the code pages, logging out, static files.
OPEN_PREFIXES = ("/account/2fa/", "/logout/", "/static/")


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith(OPEN_PREFIXES):
            verified = getattr(user, "is_verified", lambda: False)()
            if not verified:
                if totp_device(user, confirmed=True) is not None:
                    return redirect(reverse("twofactor:verify") + "?" + urlencode({"next": request.get_full_path()}))
                if twofactor_required(user):
                    return redirect("twofactor:setup")
        return self.get_response(request)
