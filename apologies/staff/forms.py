"""The form of a staff member's time zone."""

from __future__ import annotations

from django import forms

from apologies.staff.services import zone_names


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(help_text="Every time on the staff pages is shown in this zone.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(z, z) for z in zone_names()]
