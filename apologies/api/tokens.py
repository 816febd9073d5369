"""API tokens and the API's audit trail: create, revoke, authenticate, record a call."""

from __future__ import annotations

import hashlib
import secrets

from django.utils import timezone

from apologies.api.models import ApiCall, ApiToken

TOKEN_PREFIX = "amends_"


def key_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; the secret is returned once and only its hash is stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name[:100], key_hash=key_hash(raw), prefix=raw[:12])
    return token, raw


def api_token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(id=token.id, revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The live token of an active user for this secret, or None."""
    if not raw or not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=key_hash(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    return token


def api_call_record(*, user, token: ApiToken | None, method: str, path: str, status: int, ip: str | None, detail=""):
    """One line of the API's audit trail (the app-wide audit log is not on this branch: see README)."""
    return ApiCall.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        token=token,
        method=method[:10],
        path=path[:500],
        status=status,
        ip=ip or None,
        detail=str(detail)[:500],
    )
