"""Rename our own event words to django-anymail's: dropped -> rejected, resubscribed -> subscribed."""

from django.db import migrations

# Frozen here on purpose: a migration must not follow later changes of the vocabulary module.
RENAMES = {"dropped": "rejected", "resubscribed": "subscribed"}


def forwards(apps, schema_editor):
    SendEvent = apps.get_model("incidents", "SendEvent")
    for old, new in RENAMES.items():
        SendEvent.objects.filter(event=old).update(event=new)


def backwards(apps, schema_editor):
    SendEvent = apps.get_model("incidents", "SendEvent")
    for old, new in RENAMES.items():
        SendEvent.objects.filter(event=new).update(event=old)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0004_suppression_history_import_encoding")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
