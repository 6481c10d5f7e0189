from django.urls import path

from . import views

urlpatterns = [
    path("", views.import_list, name="import-list"),
    path("new/", views.import_new, name="import-new"),
    path("<int:pk>/", views.import_detail, name="import-detail"),
    path("<int:pk>/mapping/", views.import_mapping, name="import-mapping"),
    path("<int:pk>/preview/", views.import_preview_page, name="import-preview"),
    path("<int:pk>/start/", views.import_start, name="import-start"),
    path("<int:pk>/resume/", views.import_resume, name="import-resume"),
    path("<int:pk>/errors.csv", views.import_error_report, name="import-errors"),
]
