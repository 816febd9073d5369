"""The staff navigation's count of replies no campaign shows, so that nobody has to remember to look."""

from __future__ import annotations

from django import template

from apologies.feedback import services as feedback

register = template.Library()


@register.simple_tag
def unmatched_replies_count() -> int:
    return feedback.replies_unmatched().count()
