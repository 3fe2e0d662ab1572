from django.urls import path

from . import views

app_name = "penalties"
urlpatterns = [
    path("penalties/", views.case_list, name="list"),
    path("penalties/export.xlsx", views.case_export_xlsx, name="export-xlsx"),
    path("penalties/export.csv", views.case_export_csv, name="export-csv"),
    path("penalties/new/", views.case_new, name="new"),
    path("penalties/<int:pk>/", views.case_detail, name="detail"),
    path("penalties/<int:pk>/decision.docx", views.case_document, name="document"),
    path("penalties/zero-penalty/", views.zero_penalty, name="zero"),
    path("penalties/benchmark/", views.benchmark_page, name="benchmark"),
]
