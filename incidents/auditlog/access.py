"""Who counts as an administrator for the audit and privacy pages: superusers, and members of an "admin" group."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

ADMIN_GROUP = "admin"


def is_admin(user) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.is_superuser or user.groups.filter(name=ADMIN_GROUP).exists())
    )


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log-in first, then 403 for anyone who is not an administrator."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not is_admin(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapped)
