"""The last step of an erasure: every text column of every table, rewritten wherever the address still appears."""

from __future__ import annotations

import json
import re

from django.apps import apps
from django.db import models
from django.db.models import Q

TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)
# Our own records hold hashes, never addresses; sessions and migrations hold nothing a person typed.
SKIP_APPS = {"privacy", "sessions", "contenttypes", "migrations"}


def text_fields(model: type[models.Model]) -> list[models.Field]:
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, TEXT_FIELDS) and not f.choices and not isinstance(f, models.GenericIPAddressField)
    ]


def redact(value, pattern: re.Pattern, placeholder: str):
    if isinstance(value, str):
        return pattern.sub(placeholder, value)
    # JSON: rewrite the text, keep the structure.
    return json.loads(pattern.sub(placeholder, json.dumps(value)))


def sweep(*, email: str, placeholder: str) -> dict[str, int]:
    """Replace `email` (any case) by `placeholder` in every text and JSON column; returns rows changed per model."""
    pattern = re.compile(re.escape(email), re.IGNORECASE)
    changed: dict[str, int] = {}
    for model in apps.get_models():
        meta = model._meta
        if meta.app_label in SKIP_APPS or meta.proxy or not meta.managed:
            continue
        fields = text_fields(model)
        if not fields:
            continue
        query = Q()
        for f in fields:
            query |= Q(**{f"{f.name}__icontains": email})
        manager = model._base_manager
        count = 0
        for obj in manager.filter(query).iterator():
            updates = {}
            for f in fields:
                value = getattr(obj, f.attname)
                if value is None:
                    continue
                new = redact(value, pattern, placeholder)
                if new != value:
                    updates[f.attname] = new
            if updates:
                manager.filter(pk=obj.pk).update(**updates)
                count += 1
        if count:
            changed[meta.label_lower] = count
    return changed
