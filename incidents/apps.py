from django.apps import AppConfig
from django.db.models.signals import post_migrate


class IncidentsConfig(AppConfig):
    name = "incidents"

    def ready(self) -> None:
        from .roles import roles_sync

        # Every app, so permissions of apps migrated after this one are included too.
        post_migrate.connect(roles_sync, dispatch_uid="amends_roles_sync")
