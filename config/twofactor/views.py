"""The two-factor pages: set up an authenticator app, type a code after the password, turn it off."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from . import services


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    return target if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()) else "/"


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def twofactor_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not services.twofactor_offered(user):
        raise PermissionDenied
    confirmed = services.totp_device(user, confirmed=True)
    pending = services.totp_device(user, confirmed=False)
    error = ""
    if request.method == "POST":
        if request.POST.get("step") == "start":
            if confirmed is not None and not user.is_verified():
                raise PermissionDenied
            services.totp_device_start(user=user)
            return redirect("twofactor:setup")
        if pending is not None and services.totp_device_confirm(
            request=request, device=pending, token=request.POST.get("token", "")
        ):
            messages.success(request, "Two-factor sign-in is on: you will be asked for a code after your password.")
            return redirect("twofactor:setup")
        error = "That code is not right: check the phone's clock and type the code it shows now."
    context = {
        "confirmed": confirmed,
        "pending": pending,
        "qr": services.totp_qr_svg(pending) if pending else "",
        "secret": pending.bin_key.hex() if pending else "",
        "required": services.twofactor_required(user),
        "error": error,
    }
    return render(request, "twofactor/setup.html", context, status=400 if error else 200)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def twofactor_verify(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if services.totp_verify(request=request, token=request.POST.get("token", "")):
            return redirect(_next(request))
        return render(request, "twofactor/verify.html", {"next": _next(request), "error": True}, status=400)
    return render(request, "twofactor/verify.html", {"next": _next(request)})


@require_POST
@login_required
def twofactor_remove(request: HttpRequest) -> HttpResponse:
    if services.twofactor_required(request.user):
        raise PermissionDenied
    if not request.user.is_verified():
        raise PermissionDenied
    services.totp_device_remove(user=request.user)
    messages.success(request, "Two-factor sign-in is off.")
    return redirect("twofactor:setup")
