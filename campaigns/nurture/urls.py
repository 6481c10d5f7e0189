from django.urls import path

from . import api, views

urlpatterns = [
    path("content/", views.content_list, name="nurture-content"),
    path("content/<int:pk>/", views.content_edit, name="nurture-content-edit"),
    path("nurture/", views.programme_list, name="nurture-programmes"),
    path("nurture/<int:pk>/", views.programme_detail, name="nurture-programme"),
    path("nurture/<int:pk>/steps/", views.step_add, name="nurture-step-add"),
    path(
        "nurture/<int:pk>/steps/<int:step_pk>/remove/",
        views.step_remove,
        name="nurture-step-remove",
    ),
    path("nurture/audiences/", views.audience_list, name="nurture-audiences"),
    path(
        "nurture/audiences/<int:pk>/export.csv",
        views.audience_export,
        name="nurture-audience-export",
    ),
    path("nurture/leads/<int:lead_pk>/", views.lead_timeline, name="nurture-lead"),
    # Public, signed: links in e-mails.
    path("n/o/<str:token>/", views.track_open, name="nurture-open"),
    path("n/c/<str:token>/", views.track_click, name="nurture-click"),
    path("n/u/<str:token>/", views.unsubscribe, name="nurture-unsubscribe"),
]

# Under /api/nurture/ (config/urls.py includes them there).
api_urlpatterns = [
    path("programmes/", api.ProgrammeListCreate.as_view(), name="api-nurture-programmes"),
    path("programmes/<int:pk>/", api.ProgrammeDetail.as_view(), name="api-nurture-programme"),
    path("enrollments/", api.EnrollmentList.as_view(), name="api-nurture-enrollments"),
]
