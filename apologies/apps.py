"""The apologies app: campaigns, sending, letters, the way back, feedback and results, one room each."""

from django.apps import AppConfig


class ApologiesConfig(AppConfig):
    name = "apologies"

    def ready(self) -> None:
        # Connecting the signal receivers and the rooms' Celery tasks is what importing them does.
        from apologies.campaigns import signals  # noqa: F401
        from apologies.feedback import tasks as feedback_tasks  # noqa: F401
        from apologies.feedback import webhooks  # noqa: F401
        from apologies.letters import checks
        from apologies.letters import tasks as letter_tasks  # noqa: F401
        from apologies.letters.providers import tasks as provider_tasks  # noqa: F401
        from apologies.sending import tasks as sending_tasks  # noqa: F401

        # Said at start-up, web and worker alike: without it every letter PDF costs ~7x more.
        checks.fonts_warn()
