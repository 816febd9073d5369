"""The incidents app: its roles are synced after every migrate, its Celery tasks registered, and address
rules remembered (contacts/addresses.py)."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_delete


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self) -> None:
        from . import tasks  # noqa: F401 - registers the tasks that imports enqueue by name
        from .contacts.addresses import rules_cache_install
        from .events_load import incident_deleting
        from .models import Incident
        from .roles import roles_sync

        # Every app, so permissions of apps migrated after this one are included too.
        post_migrate.connect(roles_sync, dispatch_uid="amends_roles_sync")
        # On PostgreSQL an incident's events have a partition of their own (events_load.py).
        pre_delete.connect(incident_deleting, sender=Incident, dispatch_uid="amends_incident_partition")
        # Addresses are normalised and formatted per letter and per imported contact: rules per place, once.
        rules_cache_install()
