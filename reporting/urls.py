from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("campaigns/", views.campaign_scoreboard, name="dashboard-campaigns"),
    path("campaigns/mine/", views.my_campaigns, name="dashboard-my-campaigns"),
    path("me/", views.my_numbers, name="dashboard-me"),
    path("leads/", views.leads_behind, name="dashboard-leads"),
]
