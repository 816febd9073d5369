"""Reading and saving a staff member's time zone."""

from __future__ import annotations

import zoneinfo

from apologies.staff.models import StaffPreference

DEFAULT_ZONE = "UTC"


def zone_names() -> list[str]:
    return sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")


def staff_zone(*, user) -> str:
    if not getattr(user, "is_authenticated", False):
        return DEFAULT_ZONE
    zone = StaffPreference.objects.filter(user=user).values_list("time_zone", flat=True).first()
    return zone or DEFAULT_ZONE


def staff_zone_save(*, user, time_zone: str) -> None:
    if time_zone not in zoneinfo.available_timezones():
        raise ValueError(f"{time_zone!r} is not a known time zone")
    StaffPreference.objects.update_or_create(user=user, defaults={"time_zone": time_zone})
