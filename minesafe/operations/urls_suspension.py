"""URL patterns of this part of the operations app (included by urls.py under the "operations" namespace)."""

from django.urls import path

from . import views_public, views_suspension

urlpatterns = [
    path("operations/suspension-reports/", views_suspension.report_list, name="suspension-reports"),
    path("operations/suspension-reports/new/", views_suspension.report_new, name="suspension-report-new"),
    path("operations/suspension-reports/<int:pk>/", views_suspension.report_detail, name="suspension-report"),
    path("operations/suspended/", views_suspension.suspended_list, name="suspended-mines"),
    path("operations/suspended/<int:mine_id>/", views_suspension.control, name="control"),
    path("public/suspended/", views_public.public_list, name="public-suspended"),
    path("public/suspended.csv", views_public.public_csv, name="public-suspended-csv"),
    path("public/suspended.rss", views_public.SuspendedFeed(), name="public-suspended-feed"),
]
