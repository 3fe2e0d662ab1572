from django.urls import path

from . import urls_accidents, urls_equipment, urls_plans, views_risk

app_name = "enforcement"
urlpatterns = [
    *urls_accidents.urlpatterns,
    *urls_plans.urlpatterns,
    *urls_equipment.urlpatterns,
    path("enforcement/risk/", views_risk.risk_list, name="risk-list"),
    path("enforcement/risk/export.xlsx", views_risk.risk_export, {"fmt": "xlsx"}, name="risk-xlsx"),
    path("enforcement/risk/export.csv", views_risk.risk_export, {"fmt": "csv"}, name="risk-csv"),
    path("enforcement/risk/<int:mine_id>/", views_risk.risk_detail, name="risk-detail"),
]
