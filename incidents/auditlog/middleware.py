"""django-auditlog's middleware, reading the client address the same way as the rest of the app."""

from __future__ import annotations

from auditlog.middleware import AuditlogMiddleware as LibraryAuditlogMiddleware

from config.clientip import client_ip


class AuditlogMiddleware(LibraryAuditlogMiddleware):
    """Records the acting user on every model change; the address comes from config.clientip, not a raw header."""

    @staticmethod
    def _get_remote_addr(request):
        return client_ip(request)
