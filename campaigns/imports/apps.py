from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "campaigns.imports"
    label = "imports"
    verbose_name = "Lead imports"
