"""Pages of the sales workspace (included from config.urls)."""

from django.urls import path

from . import workspace_views as views

urlpatterns = [
    path("queue/", views.queue_page, name="queue"),
    path("queue/bulk/", views.queue_bulk, name="queue-bulk"),
    path("queue/settings/", views.workspace_settings, name="queue-settings"),
    path("queue/<int:pk>/decide/", views.lead_decide, name="queue-decide"),
    path("queue/<int:pk>/claim/", views.lead_claim, name="queue-claim"),
    path("queue/<int:pk>/reassign/", views.lead_reassign, name="queue-reassign"),
    path("pipeline/", views.pipeline_page, name="pipeline"),
    path("pipeline/stages/", views.pipeline_stages, name="pipeline-stages"),
    path("pipeline/deals/<int:pk>/move/", views.deal_move, name="deal-move"),
    path("criteria/", views.criteria_list, name="criteria"),
    path("criteria/new/", views.criterion_edit, name="criterion-new"),
    path("criteria/<int:pk>/", views.criterion_edit, name="criterion-edit"),
]
