"""The Content-Security-Policy middleware: one strict policy, loosened for styles only inside staff email previews."""

from __future__ import annotations

from csp.constants import SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

# These staff pages show an email's own HTML in a sandboxed srcdoc iframe (no scripts run there). Such a
# frame inherits the page's policy, and emails carry inline styles and remote images, so these pages
# allow both; every other page, and every public page, has no inline style or script at all.
EMAIL_PREVIEW_VIEWS = {"apologies:outbox_email", "apologies:preview"}
EMAIL_PREVIEW_UPDATE = {"style-src": [SELF, UNSAFE_INLINE], "img-src": ["https:", "data:"]}


class AmendsCSPMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.view_name in EMAIL_PREVIEW_VIEWS and parts.update is None:
            parts.update = EMAIL_PREVIEW_UPDATE
        return parts
