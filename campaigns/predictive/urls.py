from django.urls import path

from . import views

urlpatterns = [
    path("scoring/model/", views.scoring_model, name="scoring-model"),
    path("scoring/threshold/", views.scoring_threshold, name="scoring-threshold"),
]
