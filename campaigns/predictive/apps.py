from django.apps import AppConfig


class PredictiveConfig(AppConfig):
    name = "campaigns.predictive"
    label = "predictive"
    verbose_name = "Predictive scoring"
