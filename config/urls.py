from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from campaigns import api as campaigns_api
from campaigns.imports import api as imports_api
from campaigns.nurture import urls as nurture_urls
from campaigns.predictive import api as predictive_api
from funnel import activity_api
from funnel import api as funnel_api
from funnel import views as funnel_views
from leads import views as leads_views
from reporting import api as reporting_api
from reporting import views as reporting_views

from . import errors
from .auth_token import obtain_auth_token

api = [
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("leads/", funnel_api.LeadListCreate.as_view(), name="api-leads"),
    path("leads/<int:pk>/", funnel_api.LeadDetail.as_view(), name="api-lead"),
    path(
        "leads/<int:pk>/transitions/", funnel_api.LeadTransitions.as_view(), name="api-transitions"
    ),
    path(
        "leads/bulk-transitions/",
        funnel_api.BulkTransitions.as_view(),
        name="api-bulk-transitions",
    ),
    path("reasons/", funnel_api.ReasonList.as_view(), name="api-reasons"),
    # A rep's working day: activities on a lead, follow-up tasks.
    path(
        "leads/<int:pk>/activities/",
        activity_api.LeadActivities.as_view(),
        name="api-lead-activities",
    ),
    path("tasks/", activity_api.TaskListCreate.as_view(), name="api-tasks"),
    path("tasks/<int:pk>/", activity_api.TaskDetail.as_view(), name="api-task"),
    path("funnel/", reporting_api.FunnelView.as_view(), name="api-funnel"),
    path("campaigns/", campaigns_api.CampaignListCreate.as_view(), name="api-campaigns"),
    path("capture/<slug:slug>/", campaigns_api.CaptureView.as_view(), name="api-capture"),
    path("imports/", imports_api.ImportListCreate.as_view(), name="api-imports"),
    path("imports/<int:pk>/", imports_api.ImportDetail.as_view(), name="api-import"),
    path(
        "imports/<int:pk>/errors.csv",
        imports_api.ImportErrorReport.as_view(),
        name="api-import-errors",
    ),
    path("nurture/", include(nurture_urls.api_urlpatterns)),
    path("scoring/model/", predictive_api.ScoringModelView.as_view(), name="api-scoring-model"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/",
        login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
]

urlpatterns = [
    path("", reporting_views.home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("leads/", leads_views.lead_list, name="lead-list"),
    path("leads/<int:pk>/", funnel_views.lead_detail, name="lead-detail"),
    path("leads/<int:pk>/move/", funnel_views.lead_move, name="lead-move"),
    path("leads/<int:pk>/erase/", funnel_views.lead_erase_page, name="lead-erase"),
    path("dashboard/", include("reporting.urls")),
    path("", include("funnel.urls")),
    path("imports/", include("campaigns.imports.urls")),
    path("", include(nurture_urls.urlpatterns)),
    path("api/", include(api)),
    path("", include("campaigns.predictive.urls")),
    path("", include("campaigns.urls")),
    path("admin/", admin.site.urls),
]

handler400 = errors.bad_request
handler404 = errors.not_found
handler403 = errors.forbidden
handler500 = errors.server_error
