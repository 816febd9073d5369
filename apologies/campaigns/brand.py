"""The brand people see (name, logo, colour, sender, postal address): the campaign's own, else the settings'."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.templatetags.static import static

from apologies.campaigns.models import Campaign
from apologies.links import public_url

DEFAULT_COLOR = "#b3261e"


@dataclass(frozen=True)
class Brand:
    name: str
    logo: str  # for pages: a path on this site or an https URL; "" for none
    color: str  # #rrggbb
    from_address: str
    sender_name: str
    postal_address: str

    @property
    def logo_absolute(self) -> str:
        """For emails, which cannot use a path: the logo's full URL."""
        return public_url(self.logo) if self.logo.startswith("/") else self.logo

    @property
    def on_color(self) -> str:
        """Black or white, whichever reads better on the brand colour (WCAG relative luminance)."""
        return "#000000" if relative_luminance(self.color) > 0.179 else "#ffffff"

    @property
    def from_header(self) -> str:
        # The brand people recognise in their inbox; the sender's name signs the words themselves.
        return f"{self.name} <{self.from_address}>"

    def page_context(self) -> dict:
        return {"brand_name": self.name, "brand_logo": self.logo, "brand_color": self.color.lstrip("#").lower()}


def relative_luminance(color: str) -> float:
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    color = color.lstrip("#")
    r, g, b = (channel(color[i : i + 2]) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def valid_color(color: str) -> bool:
    color = (color or "").lstrip("#")
    return len(color) == 6 and all(c in "0123456789abcdefABCDEF" for c in color)


def logo_url(logo: str) -> str:
    if logo and not logo.startswith(("/", "https://")):
        return static(logo)
    return logo


def brand_for(campaign: Campaign | None = None) -> Brand:
    """The campaign's brand, each blank part filled from the settings (AMENDS_BRAND_*)."""
    name = (campaign.brand_name if campaign else "") or settings.AMENDS_BRAND_NAME or "Amends"
    color = (campaign.brand_color if campaign else "") or settings.AMENDS_BRAND_COLOR
    return Brand(
        name=name,
        logo=logo_url((campaign.brand_logo if campaign else "") or settings.AMENDS_BRAND_LOGO),
        color=color if valid_color(color) else DEFAULT_COLOR,
        from_address=(campaign.from_address if campaign else "") or settings.AMENDS_FROM_ADDRESS,
        sender_name=campaign.sender_name if campaign and campaign.sender_name else name,
        postal_address=(campaign.postal_address if campaign else "") or settings.AMENDS_POSTAL_ADDRESS,
    )
