from django.apps import AppConfig


class ApologiesConfig(AppConfig):
    name = "apologies"

    def ready(self) -> None:
        from . import webhooks  # noqa: F401 - connects the anymail signal receivers
