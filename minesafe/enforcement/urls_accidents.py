"""URL patterns of the accident part (included by urls.py under the "enforcement" namespace)."""

from django.urls import path

from . import views_accidents as views

urlpatterns = [
    path("enforcement/accidents/", views.accident_list, name="accident-list"),
    path("enforcement/accidents/report/", views.accident_report, name="accident-report"),
    path("enforcement/accidents/<int:pk>/", views.accident_detail, name="accident-detail"),
    path("enforcement/tasks/", views.task_list, name="task-list"),
    path("enforcement/cases/", views.case_list, name="case-list"),
    path("enforcement/cases/<int:pk>/", views.case_detail, name="case-detail"),
]
