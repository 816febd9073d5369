"""Where a person lives in time: the contact's own zone, else the country's main zone, and their day and night."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

# Countries spanning several zones: the zone where most of their people live.
MAIN_ZONE = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "MX": "America/Mexico_City",
    "BR": "America/Sao_Paulo",
    "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago",
    "AU": "Australia/Sydney",
    "NZ": "Pacific/Auckland",
    "RU": "Europe/Moscow",
    "CN": "Asia/Shanghai",
    "ID": "Asia/Jakarta",
    "KZ": "Asia/Almaty",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "DE": "Europe/Berlin",
    "GB": "Europe/London",
    "FR": "Europe/Paris",
    "NL": "Europe/Amsterdam",
    "UA": "Europe/Kyiv",
    "CD": "Africa/Kinshasa",
    "MN": "Asia/Ulaanbaatar",
    "MY": "Asia/Kuala_Lumpur",
    "EC": "America/Guayaquil",
    "PF": "Pacific/Tahiti",
    "KI": "Pacific/Tarawa",
    "FM": "Pacific/Pohnpei",
}
ZONE_TAB = Path("/usr/share/zoneinfo/zone.tab")


@cache
def zone_tab() -> dict[str, str]:
    """The first zone listed for each country in the system's zone.tab (one-zone countries are exact)."""
    found: dict[str, str] = {}
    if ZONE_TAB.exists():
        for line in ZONE_TAB.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                parts = line.split("\t")
                if len(parts) >= 3:
                    found.setdefault(parts[0], parts[2])
    return found


@cache
def zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_for(*, time_zone: str = "", country: str = "", fallback: str = "") -> ZoneInfo:
    """The contact's zone if it names a real one, else the country's main zone, else `fallback` (the campaign's),
    else AMENDS_DEFAULT_PERSON_ZONE."""
    country = (country or "").upper()
    for name in (
        time_zone,
        MAIN_ZONE.get(country, ""),
        zone_tab().get(country, ""),
        fallback,
        settings.AMENDS_DEFAULT_PERSON_ZONE,
    ):
        found = zone(name)
        if found is not None:
            return found
    return ZoneInfo("UTC")


def next_daytime(moment: datetime, tz: ZoneInfo) -> datetime:
    """`moment` if it is daytime where the person lives, else the next morning's first hour (AMENDS_DAY_HOURS)."""
    start, end = settings.AMENDS_DAY_HOURS
    local = moment.astimezone(tz)
    if start <= local.hour < end:
        return moment
    day = local.date() if local.hour < start else local.date() + timedelta(days=1)
    return datetime.combine(day, time(start), tzinfo=tz)


def next_morning(moment: datetime, tz: ZoneInfo) -> datetime:
    """`moment` if it falls in the person's morning (AMENDS_MORNING_HOURS), else the start of their next morning."""
    start, end = settings.AMENDS_MORNING_HOURS
    local = moment.astimezone(tz)
    if start <= local.hour < end:
        return moment
    day = local.date() if local.hour < start else local.date() + timedelta(days=1)
    return datetime.combine(day, time(start), tzinfo=tz)
