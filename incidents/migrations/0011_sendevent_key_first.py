"""The send events' unique constraint puts the key first: (key, incident_id) instead of (incident_id, key).

Within an incident's partition incident_id is a single value, so an index sort that starts with it compares
whole tuples; starting with the uuid key lets PostgreSQL sort abbreviated keys. Building the index of a
1,000,000-event first import took 1.02 s before, 0.58 s after (bench/ingest.py, docs/bench.md). Lookups are by
both columns (ON CONFLICT, the dedupe), which either order serves. On PostgreSQL the parent's constraint is
rebuilt on every partition.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0010_partition_send_events"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="sendevent", name="sendevent_unique_key"),
        migrations.AddConstraint(
            model_name="sendevent",
            constraint=models.UniqueConstraint(fields=("key", "incident"), name="sendevent_unique_key"),
        ),
    ]
