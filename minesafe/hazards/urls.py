from django.urls import path

from . import views

app_name = "hazards"
urlpatterns = [
    path("hazards/", views.hazard_list, name="list"),
    path("hazards/export.xlsx", views.hazard_export, name="export"),
    path("hazards/work/", views.work_list, name="work-list"),
    path("hazards/analysis/", views.analysis, name="analysis"),
    path("hazards/new/", views.hazard_report, name="report"),
    path("hazards/self-checks/", views.self_checks, name="self-checks"),
    path("hazards/investigations/", views.investigations, name="investigations"),
    path("hazards/investigations/<int:pk>/", views.investigation_detail, name="investigation"),
    path("hazards/<int:pk>/", views.hazard_detail, name="detail"),
    path("hazards/<int:pk>/plan/", views.hazard_plan, name="plan"),
    path("hazards/<int:pk>/transition/", views.hazard_transition, name="transition"),
    path("hazards/<int:pk>/attachments/", views.hazard_attachment, name="attach"),
    path("hazards/<int:pk>/attachments/<int:attachment_id>/", views.attachment_download, name="attachment"),
    path("hazards/<int:pk>/extension/", views.hazard_extension, name="extension"),
    path("hazards/<int:pk>/extension/decide/", views.extension_decide, name="extension-decide"),
    path("hazards/<int:pk>/supervise/", views.hazard_supervise, name="supervise"),
]
