from django.urls import path

from . import views, views_formal, views_kpis

app_name = "plan"
urlpatterns = [
    path("plan/", views.plan_index, name="index"),
    path("plan/tasks/<int:number>/", views.task_detail, name="task"),
    path("plan/reports/", views.report_list, name="reports"),
    path("plan/reports/new/", views.report_new, name="report-new"),
    path("plan/reports/<int:pk>/", views.report_detail, name="report"),
    path("plan/reports/<int:pk>/evidence/<int:evidence_id>/", views.evidence_download, name="evidence"),
    path("plan/overdue/", views.overdue, name="overdue"),
    path("plan/kpis/", views_kpis.kpi_list, name="kpis"),
    path("plan/kpis/<slug:code>/", views_kpis.kpi_detail, name="kpi"),
    path("plan/formal/", views_formal.formal_list, name="formal"),
    path("plan/formal/<int:pk>/download/", views_formal.formal_download, name="formal-download"),
]
