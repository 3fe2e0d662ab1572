"""URL patterns of the inspection plans (included by urls.py under the "enforcement" namespace)."""

from django.urls import path

from . import views_plans as views

urlpatterns = [
    path("enforcement/plans/", views.plan_list, name="plan-list"),
    path("enforcement/plans/new/", views.plan_new, name="plan-new"),
    path("enforcement/plans/progress/", views.plan_overview, name="plan-overview"),
    path("enforcement/plans/<int:pk>/", views.plan_detail, name="plan-detail"),
    path("enforcement/plans/<int:pk>/progress/", views.plan_progress, name="plan-progress"),
    path("enforcement/plans/<int:pk>/entries.csv", views.plan_entries_csv, name="plan-entries-csv"),
]
