"""Pages of the sales workspace (included from config.urls)."""

from django.urls import path

from . import activity_views
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
    # A rep's working day (funnel.activity_views).
    path("my-day/", activity_views.my_day_page, name="my-day"),
    path("leads/<int:pk>/activities/", activity_views.activity_log, name="lead-activity"),
    path("leads/<int:pk>/tasks/", activity_views.task_add, name="lead-task"),
    path("leads/<int:pk>/owner/", activity_views.owner_change, name="lead-owner"),
    path("leads/<int:pk>/hand-back/", activity_views.hand_back, name="lead-hand-back"),
    path("leads/<int:pk>/edit/", activity_views.lead_edit, name="lead-edit"),
    path("tasks/<int:pk>/done/", activity_views.task_done, name="task-done"),
]
