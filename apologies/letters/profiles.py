"""Print profiles: what each mail house takes (PDF/X-4 or plain PDF, CMYK or RGB black, sheet marks)."""

from __future__ import annotations

from apologies.letters.models import PrintProfile


def print_profile_save(*, values: dict, profile: PrintProfile | None = None) -> PrintProfile:
    """Add a mail house's profile, or change one; batches already made keep the profile they were made with."""
    profile = profile or PrintProfile()
    for name, value in values.items():
        setattr(profile, name, value)
    profile.save()
    return profile
