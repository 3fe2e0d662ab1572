"""URL patterns of the certificates and training part of the personnel app (included by urls.py under the
"personnel" namespace)."""

from django.urls import path

from . import views_certificates as views

urlpatterns = [
    path("personnel/certificates/", views.certificate_list, name="certificate-list"),
    path("personnel/certificates/<int:pk>/", views.certificate_detail, name="certificate-detail"),
    path("personnel/certificates/dashboard/", views.certificate_dashboard, name="certificate-dashboard"),
    path("personnel/certificates/dashboard/export.xlsx", views.certificate_dashboard_export,
         name="certificate-dashboard-export"),
    path("personnel/certificates/import/template.xlsx", views.certificate_import_template,
         name="certificate-import-template"),
    path("personnel/certificates/import/report/<str:token>.xlsx", views.certificate_import_report,
         name="certificate-import-report"),
    path("personnel/mines/<int:mine_pk>/certificates/", views.certificate_mine, name="certificate-mine"),
    path("personnel/mines/<int:mine_pk>/certificates/import/", views.certificate_import, name="certificate-import"),
    path("personnel/training/", views.training_list, name="training-list"),
    path("personnel/training/providers/", views.training_provider_list, name="training-provider-list"),
    path("personnel/training/providers/<int:pk>/", views.training_provider_detail, name="training-provider-detail"),
    path("personnel/training/rotation/", views.training_rotation, name="training-rotation"),
    path("personnel/training/coverage/", views.training_coverage, name="training-coverage"),
    path("personnel/mines/<int:mine_pk>/training/", views.training_mine, name="training-mine"),
]
