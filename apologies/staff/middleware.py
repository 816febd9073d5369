"""Shows every time on staff pages in the zone the signed-in person chose (UTC until they choose)."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone

from apologies.staff.services import staff_zone


class StaffTimeZoneMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        zone = staff_zone(user=request.user)
        request.staff_time_zone = zone
        timezone.activate(zoneinfo.ZoneInfo(zone))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
