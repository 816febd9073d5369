from django.apps import AppConfig


class ApologiesConfig(AppConfig):
    name = "apologies"
