"""Who may call what: the bearer-token authentication and the permission check of each endpoint."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer

from apologies.api.tokens import api_token_authenticate


class TokenAuth(HttpBearer):
    """`Authorization: Bearer amends_…`: the call acts as the token's user, with that user's permissions."""

    def authenticate(self, request: HttpRequest, token: str):
        found = api_token_authenticate(raw=token)
        if found is not None:
            request.user = found.user
        return found


def permission_needed(request: HttpRequest, perm: str) -> None:
    """403 unless the token's user holds `perm` (roles are groups: viewer, marketer, approver)."""
    if not request.user.has_perm(perm):
        raise HttpError(403, f"Your role does not allow this ({perm}).")
