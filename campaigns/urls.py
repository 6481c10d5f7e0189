from django.urls import path

from . import lead_actions, views

urlpatterns = [
    path("leads/export/", lead_actions.lead_export, name="lead-export"),
    path("leads/bulk/", lead_actions.lead_bulk, name="lead-bulk"),
    path("segments/", views.segment_list, name="segment-list"),
    path("segments/new/", views.segment_edit, name="segment-new"),
    path("segments/preview/", views.segment_preview, name="segment-preview"),
    path("segments/<slug:slug>/", views.segment_edit, name="segment-edit"),
    path("campaigns/", views.campaign_list, name="campaign-list"),
    path("campaigns/new/", views.campaign_edit, name="campaign-new"),
    path("campaigns/<slug:slug>/", views.campaign_detail, name="campaign-detail"),
    path("campaigns/<slug:slug>/edit/", views.campaign_edit, name="campaign-edit"),
    path(
        "campaigns/<slug:slug>/rotate-token/",
        views.campaign_token_rotate,
        name="campaign-token-rotate",
    ),
    path("scoring/", views.scoring_rules, name="scoring-rules"),
    path("scoring/<int:pk>/delete/", views.scoring_rule_delete, name="scoring-rule-delete"),
    path("f/<slug:slug>/", views.landing, name="landing"),
    path("f/<slug:slug>/thanks/", views.landing_thanks, name="landing-thanks"),
]
