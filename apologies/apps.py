from django.apps import AppConfig


class ApologiesConfig(AppConfig):
    name = "apologies"

    def ready(self) -> None:
        from . import letters, webhooks  # noqa: F401 - webhooks connects the anymail signal receivers

        # Said at start-up, web and worker alike: without it every letter PDF costs ~7x more.
        letters.fonts_warn()
